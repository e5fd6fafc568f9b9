//===- Expr.cpp - Grid and constraint expressions of manifests --*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// A tokenizer and a recursive-descent parser for the grammar in Expr.h, and a
// checked evaluator over the resulting post-order node list.
//
//===----------------------------------------------------------------------===//

#include "Expr.h"

#include <algorithm>

namespace attn {
namespace runtime {

bool isIdentifier(std::string_view name) {
  if (name.empty())
    return false;
  auto isStart = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!isStart(name[0]))
    return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) {
    return isStart(c) || (c >= '0' && c <= '9');
  });
}

namespace {

struct Token {
  enum Kind {
    End,
    Integer,
    Ident,
    LParen,
    RParen,
    Comma,
    Plus,
    Star,
    Percent,
    EqEq,
    Invalid
  };
  Kind kind = End;
  std::string_view text;
  size_t column = 0; ///< 1-based.
  int64_t value = 0;
};

class ExprParser {
public:
  ExprParser(std::string_view text, const std::vector<std::string> &symbols)
      : text(text), symbols(symbols) {
    advance();
  }

  /// Parses a whole expression followed by the end of the text.
  bool parseAll(Expr &out) {
    if (!parseSum(out))
      return false;
    return expectEnd();
  }

  bool parseConstraint(Constraint &out) {
    if (!parseSum(out.lhs))
      return false;
    if (current.kind != Token::Percent)
      return fail("expected '%'");
    advance();
    if (!parseSum(out.rhs))
      return false;
    if (current.kind != Token::EqEq)
      return fail("expected '=='");
    advance();
    if (current.kind != Token::Integer || current.value != 0)
      return fail("expected '0'");
    advance();
    return expectEnd();
  }

  const std::string &error() const { return message; }

private:
  std::string_view text;
  const std::vector<std::string> &symbols;
  size_t pos = 0;
  Token current;
  std::string message;

  bool expectEnd() {
    if (current.kind != Token::End)
      return fail("expected end of expression");
    return true;
  }

  /// Records "<what> at column <c> in '<text>', found <token>".
  bool fail(const std::string &what) {
    std::string found = current.kind == Token::End
                            ? "end of expression"
                            : "'" + std::string(current.text) + "'";
    message = what + " at column " + std::to_string(current.column) + " in '" +
              std::string(text) + "', found " + found;
    return false;
  }

  void advance() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
      ++pos;
    current = Token();
    current.column = pos + 1;
    if (pos >= text.size())
      return;
    size_t start = pos;
    char c = text[pos];
    auto single = [&](Token::Kind kind) {
      current.kind = kind;
      current.text = text.substr(start, 1);
      ++pos;
    };
    if (c >= '0' && c <= '9') {
      int64_t value = 0;
      bool overflow = false;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        int digit = text[pos] - '0';
        if (value > (INT64_MAX - digit) / 10)
          overflow = true;
        else
          value = value * 10 + digit;
        ++pos;
      }
      // "64x" is one malformed token, not 64 followed by x.
      while (pos < text.size() && isIdentifier(std::string_view(&text[pos], 1)))
        ++pos;
      current.text = text.substr(start, pos - start);
      current.kind =
          overflow || !std::all_of(current.text.begin(), current.text.end(),
                                   [](char d) { return d >= '0' && d <= '9'; })
              ? Token::Invalid
              : Token::Integer;
      current.value = value;
      return;
    }
    if (isIdentifier(std::string_view(&text[pos], 1))) {
      while (pos < text.size() &&
             (isIdentifier(std::string_view(&text[pos], 1)) ||
              (text[pos] >= '0' && text[pos] <= '9')))
        ++pos;
      current.kind = Token::Ident;
      current.text = text.substr(start, pos - start);
      return;
    }
    switch (c) {
    case '(':
      return single(Token::LParen);
    case ')':
      return single(Token::RParen);
    case ',':
      return single(Token::Comma);
    case '+':
      return single(Token::Plus);
    case '*':
      return single(Token::Star);
    case '%':
      return single(Token::Percent);
    case '=':
      if (text.substr(pos, 2) == "==") {
        current.kind = Token::EqEq;
        current.text = text.substr(start, 2);
        pos += 2;
        return;
      }
      return single(Token::Invalid);
    default:
      return single(Token::Invalid);
    }
  }

  static int push(Expr &out, Expr::Kind kind, int64_t value, int lhs = -1,
                  int rhs = -1) {
    out.nodes.push_back({kind, value, lhs, rhs});
    return static_cast<int>(out.nodes.size()) - 1;
  }

  /// Parentheses and ceildiv nest at most this deep: the parser recurses
  /// once per level, and a manifest is untrusted input.
  static constexpr int kMaxNesting = 64;
  int nesting = 0;

  bool parseSum(Expr &out) {
    if (nesting == kMaxNesting)
      return fail("expression nested deeper than " +
                  std::to_string(kMaxNesting) + " levels");
    ++nesting;
    bool parsed = parseSumBody(out);
    --nesting;
    return parsed;
  }

  bool parseSumBody(Expr &out) {
    if (!parseProduct(out))
      return false;
    while (current.kind == Token::Plus) {
      int lhs = static_cast<int>(out.nodes.size()) - 1;
      advance();
      if (!parseProduct(out))
        return false;
      push(out, Expr::Kind::Add, 0, lhs,
           static_cast<int>(out.nodes.size()) - 1);
    }
    return true;
  }

  bool parseProduct(Expr &out) {
    if (!parseFactor(out))
      return false;
    while (current.kind == Token::Star) {
      int lhs = static_cast<int>(out.nodes.size()) - 1;
      advance();
      if (!parseFactor(out))
        return false;
      push(out, Expr::Kind::Mul, 0, lhs,
           static_cast<int>(out.nodes.size()) - 1);
    }
    return true;
  }

  bool parseFactor(Expr &out) {
    switch (current.kind) {
    case Token::Integer:
      push(out, Expr::Kind::Constant, current.value);
      advance();
      return true;
    case Token::LParen:
      advance();
      if (!parseSum(out))
        return false;
      if (current.kind != Token::RParen)
        return fail("expected ')'");
      advance();
      return true;
    case Token::Ident: {
      if (current.text == "ceildiv") {
        advance();
        if (current.kind != Token::LParen)
          return fail("expected '(' after 'ceildiv'");
        advance();
        if (!parseSum(out))
          return false;
        int lhs = static_cast<int>(out.nodes.size()) - 1;
        if (current.kind != Token::Comma)
          return fail("expected ',' in 'ceildiv'");
        advance();
        if (!parseSum(out))
          return false;
        int rhs = static_cast<int>(out.nodes.size()) - 1;
        if (current.kind != Token::RParen)
          return fail("expected ')' closing 'ceildiv'");
        advance();
        push(out, Expr::Kind::CeilDiv, 0, lhs, rhs);
        return true;
      }
      auto it = std::find(symbols.begin(), symbols.end(), current.text);
      if (it == symbols.end()) {
        std::string known;
        for (const std::string &symbol : symbols)
          known += (known.empty() ? "" : ", ") + symbol;
        message = "unknown symbol '" + std::string(current.text) +
                  "' at column " + std::to_string(current.column) + " in '" +
                  std::string(text) + "' (the argument shapes define: " +
                  (known.empty() ? "none" : known) + ")";
        return false;
      }
      push(out, Expr::Kind::Symbol, it - symbols.begin());
      advance();
      return true;
    }
    default:
      return fail("expected an integer, a symbol, 'ceildiv' or '('");
    }
  }
};

} // namespace

Result<Expr> parseExpr(std::string_view text,
                       const std::vector<std::string> &symbols) {
  Expr expr;
  ExprParser parser(text, symbols);
  if (!parser.parseAll(expr))
    return Error(parser.error());
  return expr;
}

Result<Constraint> parseConstraint(std::string_view text,
                                   const std::vector<std::string> &symbols) {
  Constraint constraint;
  ExprParser parser(text, symbols);
  if (!parser.parseConstraint(constraint))
    return Error(parser.error());
  return constraint;
}

Result<int64_t> Expr::evaluate(const std::vector<int64_t> &bindings) const {
  std::vector<int64_t> values(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node &node = nodes[i];
    switch (node.kind) {
    case Kind::Constant:
      values[i] = node.value;
      break;
    case Kind::Symbol:
      values[i] = bindings[node.value];
      break;
    case Kind::Add:
      if (__builtin_add_overflow(values[node.lhs], values[node.rhs],
                                 &values[i]))
        return Error("overflow in " + std::to_string(values[node.lhs]) + " + " +
                     std::to_string(values[node.rhs]));
      break;
    case Kind::Mul:
      if (__builtin_mul_overflow(values[node.lhs], values[node.rhs],
                                 &values[i]))
        return Error("overflow in " + std::to_string(values[node.lhs]) + " * " +
                     std::to_string(values[node.rhs]));
      break;
    case Kind::CeilDiv: {
      int64_t a = values[node.lhs], b = values[node.rhs];
      if (b == 0)
        return Error("ceildiv(" + std::to_string(a) + ", 0) divides by zero");
      // Operands are non-negative: symbols are extents, literals unsigned.
      values[i] = a / b + (a % b != 0 ? 1 : 0);
      break;
    }
    }
  }
  return values.back();
}

void Expr::collectSymbols(std::vector<int64_t> &out) const {
  for (const Node &node : nodes)
    if (node.kind == Kind::Symbol &&
        std::find(out.begin(), out.end(), node.value) == out.end())
      out.push_back(node.value);
}

} // namespace runtime
} // namespace attn
