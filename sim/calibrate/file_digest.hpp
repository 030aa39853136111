#pragma once
// The SHA-256 of a file (OpenSSL libcrypto EVP), for a calibration's provenance:
// which trace, byte for byte, its parameters were fitted to.
#include <optional>
#include <string>

namespace trainsim::calibrate {

// Lower-case hex of the file's SHA-256; nullopt when the file cannot be read.
[[nodiscard]] std::optional<std::string> file_sha256(const std::string& path);
// Lower-case hex of the SHA-256 of `data` (for the tests' known vectors).
[[nodiscard]] std::string sha256_hex(const std::string& data);

}  // namespace trainsim::calibrate
