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

} // namespace

KeptPair buildKeepTwoOfFour(OpBuilder &b, Location loc, ArrayRef<Value> s) {
  assert(s.size() == 4 && "a group of four scores");
  // First matches (0, 1) and (2, 3): winner and loser of each.
  Value upperWinsA = laterBeats(b, loc, s[0], s[1]);
  Value upperWinsB = laterBeats(b, loc, s[2], s[3]);
  auto select = [&](Value condition, Value x, Value y) -> Value {
    return arith::SelectOp::create(b, loc, condition, x, y);
  };
  Value winnerA = select(upperWinsA, s[1], s[0]);
  Value loserA = select(upperWinsA, s[0], s[1]);
  Value winnerB = select(upperWinsB, s[3], s[2]);
  Value loserB = select(upperWinsB, s[2], s[3]);
  // The final (B's entries have the higher indices), then the runner-up:
  // if A won, A's loser against B's winner (A's loser has the lower index,
  // so it wins ties); if B won, A's winner against B's loser. Both kept
  // scores lie in one pair exactly when that pair's loser is the
  // runner-up; otherwise they are the two winners, already in index order.
  Value bWins = laterBeats(b, loc, winnerA, winnerB);
  Value bothInA = arith::AndIOp::create(
      b, loc,
      arith::XOrIOp::create(
          b, loc, bWins,
          arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGE, loserA,
                            winnerB));
  Value bothInB =
      arith::AndIOp::create(b, loc, bWins, laterBeats(b, loc, winnerA, loserB));
  Type i32Type = b.getI32Type();
  Value indexA = arith::ExtUIOp::create(b, loc, i32Type, upperWinsA);
  Value indexB = arith::AddIOp::create(
      b, loc, i32(b, loc, 2),
      arith::ExtUIOp::create(b, loc, i32Type, upperWinsB));
  KeptPair kept;
  kept.firstValue = select(bothInA, s[0], select(bothInB, s[2], winnerA));
  kept.secondValue = select(bothInA, s[1], select(bothInB, s[3], winnerB));
  kept.firstIndex =
      select(bothInA, i32(b, loc, 0), select(bothInB, i32(b, loc, 2), indexA));
  kept.secondIndex =
      select(bothInA, i32(b, loc, 1), select(bothInB, i32(b, loc, 3), indexB));
  // The winners' nibble a | b << 2 = a + 4 b' + 8 for b = 2 + b'.
  Value winners = arith::AddIOp::create(
      b, loc, indexA,
      arith::AddIOp::create(
          b, loc,
          arith::ShLIOp::create(
              b, loc, arith::ExtUIOp::create(b, loc, i32Type, upperWinsB),
              i32(b, loc, 2)),
          i32(b, loc, 8)));
  kept.nibble = select(bothInA, i32(b, loc, 0b0100),
                       select(bothInB, i32(b, loc, 0b1110), winners));
  return kept;
}

KeptPair buildKeepOneOfTwoPairs(OpBuilder &b, Location loc, ArrayRef<Value> s) {
  assert(s.size() == 4 && "two pairs of scores");
  auto pick = [&](int64_t lower) -> Entry {
    Value upperWins = laterBeats(b, loc, s[lower], s[lower + 1]);
    return selectEntry(b, loc, upperWins,
                       Entry{s[lower + 1], i32(b, loc, lower + 1)},
                       Entry{s[lower], i32(b, loc, lower)});
  };
  Entry first = pick(0), second = pick(2);
  Value nibble = arith::OrIOp::create(
      b, loc, first.index,
      arith::ShLIOp::create(b, loc, second.index, i32(b, loc, 2)));
  return {first.value, first.index, second.value, second.index, nibble};
}

SmallVector<Value> buildKeptFlags(OpBuilder &b, Location loc,
                                  ArrayRef<Value> group, int64_t keep) {
  int64_t size = group.size();
  SmallVector<Value> flags;
  auto flagsOf = [&](ArrayRef<Value> indices, int64_t offset, int64_t count) {
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
