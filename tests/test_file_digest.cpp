// The trace's SHA-256 in a calibration's provenance (issue 13): OpenSSL's EVP digest
// against the FIPS 180-2 known vectors, and a file hashed equals its bytes hashed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "sim/calibrate/file_digest.hpp"

namespace test_file_digest {

using namespace trainsim::calibrate;

TEST_CASE("sha256 of the FIPS 180-2 vectors", "[calibrate][digest]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("file_sha256 reads the whole file, across buffer boundaries", "[calibrate][digest]") {
  const auto path = std::filesystem::temp_directory_path() / "trainsim_test_file_digest.bin";
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>(i * 7 % 251);  // > 3 buffers of 64 KiB, with NULs
  {
    std::ofstream out(path, std::ios::binary);
    out << data;
  }
  const auto digest = file_sha256(path.string());
  REQUIRE(digest.has_value());
  CHECK(*digest == sha256_hex(data));
  CHECK(digest->size() == 64);
  std::filesystem::remove(path);
  CHECK_FALSE(file_sha256(path.string()).has_value());
}

}  // namespace test_file_digest
