#pragma once
// The configuration reference, written from the key declarations (keys.hpp):
// every key of the cluster and workload files with its kind and unit, range,
// default and help. `trainsim keys` prints it; README.md's "Configuration
// reference" is the Markdown form, checked by a test.
#include <ostream>

namespace trainsim::config {

void write_key_reference_text(std::ostream& out);
void write_key_reference_markdown(std::ostream& out);
void write_key_reference_json(std::ostream& out);

}  // namespace trainsim::config
