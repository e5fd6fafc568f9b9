//===- Json.cpp - A small strict JSON reader --------------------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// A recursive-descent reader over the JSON grammar (RFC 8259) restricted to
// integers. Each parse function consumes one production starting at `pos`
// and records the first error; callers stop at the first failure.
//
//===----------------------------------------------------------------------===//

#include "Json.h"

#include <cctype>
#include <cstdio>
#include <unordered_set>

namespace attn {
namespace runtime {
namespace json {

const Value *Value::find(std::string_view key) const {
  for (const auto &member : members)
    if (member.first == key)
      return &member.second;
  return nullptr;
}

const char *kindName(Value::Kind kind) {
  switch (kind) {
  case Value::Kind::Null:
    return "null";
  case Value::Kind::Bool:
    return "a boolean";
  case Value::Kind::Integer:
    return "an integer";
  case Value::Kind::String:
    return "a string";
  case Value::Kind::Array:
    return "an array";
  case Value::Kind::Object:
    return "an object";
  }
  return "a value";
}

std::pair<size_t, size_t> lineColumn(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  Result<Value> run() {
    // Tolerate a UTF-8 byte order mark.
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
      pos = 3;
    Value root;
    skipSpace();
    if (!parseValue(root, 0))
      return Error(error);
    skipSpace();
    if (pos != text.size()) {
      fail("unexpected " + describe(pos) + " after the top-level value");
      return Error(error);
    }
    return root;
  }

private:
  std::string_view text;
  size_t pos = 0;
  std::string error;

  /// Records "<line>:<column>: <message>" at `at` and returns false.
  bool fail(const std::string &message) { return failAt(pos, message); }
  bool failAt(size_t at, const std::string &message) {
    auto [line, column] = lineColumn(text, at);
    error =
        std::to_string(line) + ":" + std::to_string(column) + ": " + message;
    return false;
  }

  /// Describes the character at `at` for diagnostics.
  std::string describe(size_t at) const {
    if (at >= text.size())
      return "end of input";
    unsigned char c = static_cast<unsigned char>(text[at]);
    if (c >= 0x20 && c < 0x7f)
      return std::string("'") + static_cast<char>(c) + "'";
    char buffer[16];
    std::snprintf(buffer, sizeof(buffer), "byte 0x%02x", c);
    return buffer;
  }

  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  bool parseValue(Value &out, int depth) {
    out.offset = pos;
    if (pos >= text.size())
      return fail("expected a value, found end of input");
    char c = text[pos];
    if (c == '{')
      return parseObject(out, depth);
    if (c == '[')
      return parseArray(out, depth);
    if (c == '"') {
      out.kind = Value::Kind::String;
      return parseString(out.string);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseInteger(out);
    if (c == 't' || c == 'f' || c == 'n')
      return parseKeyword(out);
    return fail("expected a value, found " + describe(pos));
  }

  bool parseKeyword(Value &out) {
    auto take = [&](std::string_view word) {
      if (text.substr(pos, word.size()) != word)
        return false;
      size_t end = pos + word.size();
      // Reject "truex" and the like.
      if (end < text.size() &&
          (std::isalnum(static_cast<unsigned char>(text[end])) ||
           text[end] == '_'))
        return false;
      pos = end;
      return true;
    };
    if (take("true")) {
      out.kind = Value::Kind::Bool;
      out.boolean = true;
      return true;
    }
    if (take("false")) {
      out.kind = Value::Kind::Bool;
      out.boolean = false;
      return true;
    }
    if (take("null")) {
      out.kind = Value::Kind::Null;
      return true;
    }
    return fail("expected a value, found " + describe(pos));
  }

  bool parseInteger(Value &out) {
    size_t start = pos;
    bool negative = false;
    if (text[pos] == '-') {
      negative = true;
      ++pos;
    }
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9')
      return fail("expected a digit after '-', found " + describe(pos));
    if (text[pos] == '0' && pos + 1 < text.size() && text[pos + 1] >= '0' &&
        text[pos + 1] <= '9')
      return failAt(start, "numbers must not have leading zeros");
    // Accumulate as a negative number so that INT64_MIN fits.
    int64_t value = 0;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos) {
      int digit = text[pos] - '0';
      if (value < (INT64_MIN + digit) / 10)
        return failAt(start, "integer out of the 64-bit range");
      value = value * 10 - digit;
    }
    if (pos < text.size() &&
        (text[pos] == '.' || text[pos] == 'e' || text[pos] == 'E'))
      return failAt(start, "only integers are supported, found a number "
                           "with a fraction or exponent");
    if (!negative) {
      if (value == INT64_MIN)
        return failAt(start, "integer out of the 64-bit range");
      value = -value;
    }
    out.kind = Value::Kind::Integer;
    out.integer = value;
    return true;
  }

  bool parseHex4(uint32_t &out) {
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos) {
      if (pos >= text.size())
        return fail("expected 4 hex digits after \\u, found end of input");
      char c = text[pos];
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return fail("expected 4 hex digits after \\u, found " + describe(pos));
      out = out * 16 + digit;
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  /// Parses a string starting at the opening quote into `out`.
  bool parseString(std::string &out) {
    size_t start = pos++;
    out.clear();
    while (true) {
      if (pos >= text.size())
        return failAt(start, "unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("control character " + describe(pos) +
                    " in a string must be escaped");
      if (c != '\\') {
        out += static_cast<char>(c);
        ++pos;
        continue;
      }
      ++pos;
      if (pos >= text.size())
        return failAt(start, "unterminated string");
      char escape = text[pos++];
      switch (escape) {
      case '"':
      case '\\':
      case '/':
        out += escape;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        size_t escapeStart = pos - 2;
        uint32_t code;
        if (!parseHex4(code))
          return false;
        if (code >= 0xDC00 && code <= 0xDFFF)
          return failAt(escapeStart, "unpaired low surrogate in \\u escape");
        if (code >= 0xD800 && code <= 0xDBFF) {
          if (text.substr(pos, 2) != "\\u")
            return failAt(escapeStart,
                          "high surrogate in \\u escape is not followed by "
                          "a low surrogate");
          pos += 2;
          uint32_t low;
          if (!parseHex4(low))
            return false;
          if (low < 0xDC00 || low > 0xDFFF)
            return failAt(escapeStart,
                          "high surrogate in \\u escape is not followed by "
                          "a low surrogate");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, code);
        break;
      }
      default:
        --pos;
        return fail("invalid escape '\\" + std::string(1, escape) +
                    "' in a string");
      }
    }
  }

  bool parseArray(Value &out, int depth) {
    if (depth >= kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth));
    out.kind = Value::Kind::Array;
    ++pos;
    skipSpace();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipSpace();
      Value element;
      if (!parseValue(element, depth + 1))
        return false;
      out.elements.push_back(std::move(element));
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        skipSpace();
        if (pos < text.size() && text[pos] == ']')
          return fail("trailing ',' before ']'");
        continue;
      }
      if (pos < text.size() && text[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']' in an array, found " + describe(pos));
    }
  }

  bool parseObject(Value &out, int depth) {
    if (depth >= kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth));
    out.kind = Value::Kind::Object;
    ++pos;
    skipSpace();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    // The keys seen so far: a hash set, so that an object of n keys costs
    // O(n), not the O(n²) of looking each up among the members.
    std::unordered_set<std::string> keys;
    while (true) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '"')
        return fail("expected a string key in an object, found " +
                    describe(pos));
      size_t keyStart = pos;
      std::string key;
      if (!parseString(key))
        return false;
      if (!keys.insert(key).second)
        return failAt(keyStart, "duplicate key \"" + key + "\"");
      skipSpace();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':' after key \"" + key + "\", found " +
                    describe(pos));
      ++pos;
      skipSpace();
      Value member;
      if (!parseValue(member, depth + 1))
        return false;
      out.members.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (pos < text.size() && text[pos] == ',') {
        ++pos;
        skipSpace();
        if (pos < text.size() && text[pos] == '}')
          return fail("trailing ',' before '}'");
        continue;
      }
      if (pos < text.size() && text[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' in an object, found " + describe(pos));
    }
  }
};

} // namespace

Result<Value> parse(std::string_view text) { return Parser(text).run(); }

} // namespace json
} // namespace runtime
} // namespace attn
