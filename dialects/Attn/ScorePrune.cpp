//===- ScorePrune.cpp - the N:M selection rule of a score group -----------===//
//
// See ScorePrune.h for the rule and its two formulations.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/ScorePrune.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

namespace attn {
namespace {
/// A score with its i32 index in the group.
struct Entry {
  Value value, index;
};

/// `onFirst ? first : second` for both fields.
Entry selectEntry(OpBuilder &b, Location loc, Value onFirst, Entry first,
                  Entry second) {
  return {arith::SelectOp::create(b, loc, onFirst, first.value, second.value),
          arith::SelectOp::create(b, loc, onFirst, first.index, second.index)};
}

/// "later beats earlier" for two entries whose indices are ordered
/// (earlier's index lower): strictly greater, so a tie goes to the earlier.
Value laterBeats(OpBuilder &b, Location loc, Value earlier, Value later) {
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, later,
                               earlier);
}

Value i32(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIntOp::create(b, loc, b.getI32Type(), value);
}

/// The two entries in index order.
KeptPair inIndexOrder(OpBuilder &b, Location loc, Entry x, Entry y) {
  Value xFirst = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                       x.index, y.index);
  Entry first = selectEntry(b, loc, xFirst, x, y);
  Entry second = selectEntry(b, loc, xFirst, y, x);
  return {first.value, first.index, second.value, second.index};
}
} // namespace

KeptPair buildKeepTwoOfFour(OpBuilder &b, Location loc, ArrayRef<Value> s) {
  assert(s.size() == 4 && "a group of four scores");
  // First matches: (0, 1) and (2, 3).
  auto match = [&](int64_t lower) -> std::pair<Entry, Entry> {
    Entry a{s[lower], i32(b, loc, lower)}, c{s[lower + 1], i32(b, loc, lower + 1)};
    Value upperWins = laterBeats(b, loc, a.value, c.value);
    return {selectEntry(b, loc, upperWins, c, a),
            selectEntry(b, loc, upperWins, a, c)};
  };
  auto [winnerA, loserA] = match(0);
  auto [winnerB, loserB] = match(2);
  // Final: B's entries have the higher indices.
  Value bWins = laterBeats(b, loc, winnerA.value, winnerB.value);
  Entry winner = selectEntry(b, loc, bWins, winnerB, winnerA);
  // Runner-up: the final's loser against the loser of the winner's first
  // match. If B won, they are winnerA (lower index) and loserB; if A won,
  // loserA (lower index) and winnerB.
  Entry lowCandidate = selectEntry(b, loc, bWins, winnerA, loserA);
  Entry highCandidate = selectEntry(b, loc, bWins, loserB, winnerB);
  Value highWins = laterBeats(b, loc, lowCandidate.value, highCandidate.value);
  Entry runnerUp = selectEntry(b, loc, highWins, highCandidate, lowCandidate);
  return inIndexOrder(b, loc, winner, runnerUp);
}

KeptPair buildKeepOneOfTwoPairs(OpBuilder &b, Location loc, ArrayRef<Value> s) {
  assert(s.size() == 4 && "two pairs of scores");
  auto pick = [&](int64_t lower) -> Entry {
    Value upperWins = laterBeats(b, loc, s[lower], s[lower + 1]);
    return selectEntry(b, loc, upperWins, Entry{s[lower + 1], i32(b, loc, lower + 1)},
                       Entry{s[lower], i32(b, loc, lower)});
  };
  Entry first = pick(0), second = pick(2);
  return {first.value, first.index, second.value, second.index};
}

SmallVector<Value> buildKeptFlags(OpBuilder &b, Location loc,
                                  ArrayRef<Value> group, int64_t keep) {
  int64_t size = group.size();
  SmallVector<Value> flags;
  auto flagsOf = [&](ArrayRef<Value> indices, int64_t offset,
                     int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      Value position = i32(b, loc, offset + i);
      Value kept;
      for (Value index : indices) {
        Value hit = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                          index, position);
        kept = kept ? Value(arith::OrIOp::create(b, loc, kept, hit)) : hit;
      }
      flags.push_back(kept);
    }
  };
  if (keep == 2 && size == 4) {
    KeptPair pair = buildKeepTwoOfFour(b, loc, group);
    flagsOf({pair.firstIndex, pair.secondIndex}, 0, 4);
    return flags;
  }
  if (keep == 1 && size == 2) {
    Value upperWins = laterBeats(b, loc, group[0], group[1]);
    Value lowerKept = arith::XOrIOp::create(
        b, loc, upperWins,
        arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1));
    return {lowerKept, upperWins};
  }
  // Count the beaters of each score: one comparison per pair i < j, since
  // j beats i exactly when s_j > s_i and i beats j otherwise.
  Type i32Type = b.getI32Type();
  SmallVector<Value> beaters(size, i32(b, loc, 0));
  for (int64_t i = 0; i < size; ++i)
    for (int64_t j = i + 1; j < size; ++j) {
      Value upperWins = laterBeats(b, loc, group[i], group[j]);
      Value one = arith::ExtUIOp::create(b, loc, i32Type, upperWins);
      beaters[i] = arith::AddIOp::create(b, loc, beaters[i], one);
      beaters[j] = arith::AddIOp::create(
          b, loc, beaters[j],
          arith::SubIOp::create(b, loc, i32(b, loc, 1), one));
    }
  for (int64_t i = 0; i < size; ++i)
    flags.push_back(arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                          beaters[i], i32(b, loc, keep)));
  return flags;
}

} // namespace attn
