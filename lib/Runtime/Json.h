//===- Json.h - A small strict JSON reader ----------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// Reads the subset of JSON that bundle manifests use: objects, arrays,
// strings (all escapes, \u with surrogate pairs, emitted as UTF-8), integers
// that fit in int64_t, booleans and null. Non-integer numbers, duplicate
// object keys, trailing commas, comments, control characters in strings,
// nesting deeper than 64 and trailing content are errors. Every value keeps
// its byte offset so that later checks can report a line and column.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_RUNTIME_JSON_H
#define ATTN_LIB_RUNTIME_JSON_H

#include "attn/Runtime/Runtime.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attn {
namespace runtime {
namespace json {

/// One JSON value. Members of an object keep their textual order.
struct Value {
  enum class Kind { Null, Bool, Integer, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Value> elements;
  std::vector<std::pair<std::string, Value>> members;
  size_t offset = 0; ///< Byte offset of the value's first character.

  /// The member named `key`, or nullptr (objects only).
  const Value *find(std::string_view key) const;
};

/// The spelling of `kind` in diagnostics: "null", "a boolean", "an integer",
/// "a string", "an array", "an object".
const char *kindName(Value::Kind kind);

/// 1-based line and column of byte `offset` in `text`.
std::pair<size_t, size_t> lineColumn(std::string_view text, size_t offset);

/// Parses `text` as one JSON value. Errors read "<line>:<column>: <what>",
/// naming what was expected and the character found.
Result<Value> parse(std::string_view text);

} // namespace json
} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_JSON_H
