#include "sim/calibrate/file_digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <fstream>
#include <memory>

namespace trainsim::calibrate {
namespace {

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::string digest_hex(const unsigned char* digest, unsigned int size) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

// Feeds `read(context)` into a SHA-256; nullopt when it or OpenSSL fails.
template <typename Feed>
std::optional<std::string> sha256_of(Feed&& feed) {
  DigestContext context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
  if (!feed(context.get())) return std::nullopt;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(context.get(), digest.data(), &size) != 1) return std::nullopt;
  return digest_hex(digest.data(), size);
}

}  // namespace

std::optional<std::string> file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return sha256_of([&](EVP_MD_CTX* context) {
    std::array<char, 1 << 16> buffer{};
    while (in) {
      in.read(buffer.data(), buffer.size());
      const std::streamsize got = in.gcount();
      if (got > 0 && EVP_DigestUpdate(context, buffer.data(), static_cast<std::size_t>(got)) != 1) return false;
    }
    return in.eof();
  });
}

std::string sha256_hex(const std::string& data) {
  return sha256_of([&](EVP_MD_CTX* context) { return EVP_DigestUpdate(context, data.data(), data.size()) == 1; })
      .value_or("");
}

}  // namespace trainsim::calibrate
