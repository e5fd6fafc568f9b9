//===- Expr.h - Grid and constraint expressions of manifests ----*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//
//
// The manifest's tiny expression language:
//
//   expr       := term ('+' term)*
//   term       := factor ('*' factor)*
//   factor     := integer | symbol | 'ceildiv' '(' expr ',' expr ')'
//               | '(' expr ')'
//   constraint := expr '%' expr '==' '0'
//
// Integers are non-negative decimal literals; symbols are
// [A-Za-z_][A-Za-z0-9_]* and must be shape symbols of the bundle (resolved to
// their index at parse time). Evaluation is exact on int64_t: overflow and
// ceildiv by zero are errors, never wrapped or trapped.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_LIB_RUNTIME_EXPR_H
#define ATTN_LIB_RUNTIME_EXPR_H

#include "attn/Runtime/Runtime.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attn {
namespace runtime {

/// A parsed expression: nodes in post-order, the root last.
class Expr {
public:
  enum class Kind { Constant, Symbol, Add, Mul, CeilDiv };
  struct Node {
    Kind kind;
    int64_t value; ///< Constant value, or symbol index.
    int lhs, rhs;  ///< Operand node indices for Add, Mul, CeilDiv.
  };

  /// Evaluates with `bindings[i]` the value of symbol i. Fails on int64_t
  /// overflow and on ceildiv by zero.
  Result<int64_t> evaluate(const std::vector<int64_t> &bindings) const;

  /// Appends the indices of the symbols this expression reads to `out`
  /// (without duplicates).
  void collectSymbols(std::vector<int64_t> &out) const;

  std::vector<Node> nodes;
};

/// `lhs % rhs == 0`.
struct Constraint {
  Expr lhs, rhs;
};

/// Parses `text` as an expr over `symbols`. Errors read "<what> at column
/// <c> in '<text>'", naming the token found.
Result<Expr> parseExpr(std::string_view text,
                       const std::vector<std::string> &symbols);

/// Parses `text` as a constraint over `symbols`.
Result<Constraint> parseConstraint(std::string_view text,
                                   const std::vector<std::string> &symbols);

/// True if `name` matches [A-Za-z_][A-Za-z0-9_]*.
bool isIdentifier(std::string_view name);

} // namespace runtime
} // namespace attn

#endif // ATTN_LIB_RUNTIME_EXPR_H
