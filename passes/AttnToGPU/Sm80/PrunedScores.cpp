//===- PrunedScores.cpp - the sm_80 N:M prune and sparse P V --------------===//
//
// See PrunedScores.h.
//
//===----------------------------------------------------------------------===//

#include "PrunedScores.h"

#include "../SharedMemory.h"

#include <limits>

using namespace mlir;
using namespace attn;

PrunedScores attn::pruneScoreFragments(
    KernelBuilder &tiles, mlir::SmallVectorImpl<SmallVector<Value>> &scores,
    int64_t keep, int64_t group, int64_t blockK, bool sparse, Value lane) {
  ImplicitLocOpBuilder &b = tiles.b;
  int64_t rowTiles = scores.size();
  PrunedScores pruned;
  pruned.kept.resize(2 * rowTiles);
  pruned.metadata.resize(rowTiles);
  for (int64_t r = 0; r < rowTiles; ++r)
    for (int64_t chunk = 0; chunk < blockK / 32; ++chunk) {
      for (int64_t half = 0; half < 2; ++half) {
        // This lane's 8 keys of the chunk in key order: slice 4c + k,
        // column j is key 8t + 2k + j (indices into scores[r]).
        SmallVector<int64_t> laneKeys;
        for (int64_t k = 0; k < 4; ++k)
          for (int64_t j = 0; j < 2; ++j)
            laneKeys.push_back(4 * (4 * chunk + k) + 2 * half + j);
        if (sparse) {
          for (int64_t quarter = 0; quarter < 2; ++quarter) {
            SmallVector<Value> four;
            for (int64_t i = 0; i < 4; ++i)
              four.push_back(scores[r][laneKeys[4 * quarter + i]]);
            pruned.kept[2 * r + half].push_back(
                keep == 2 ? buildKeepTwoOfFour(b, b.getLoc(), four)
                          : buildKeepOneOfTwoPairs(b, b.getLoc(), four));
          }
          continue;
        }
        for (int64_t first = 0; first < 8; first += group) {
          SmallVector<Value> values;
          for (int64_t i = 0; i < group; ++i)
            values.push_back(scores[r][laneKeys[first + i]]);
          SmallVector<Value> flags =
              buildKeptFlags(b, b.getLoc(), values, keep);
          for (int64_t i = 0; i < group; ++i) {
            Value &score = scores[r][laneKeys[first + i]];
            score = arith::SelectOp::create(
                b, flags[i], score,
                tiles.f32(-std::numeric_limits<float>::infinity()));
          }
        }
      }
      if (sparse)
        pruned.metadata[r].push_back(
            buildSparseMetadata(tiles, {&pruned.kept[2 * r][2 * chunk], 2},
                                {&pruned.kept[2 * r + 1][2 * chunk], 2}, lane));
    }
  if (!sparse)
    return {};
  return pruned;
}

Value attn::buildSparseMetadata(KernelBuilder &tiles, ArrayRef<KeptPair> upper,
                                ArrayRef<KeptPair> lower, Value lane) {
  ImplicitLocOpBuilder &b = tiles.b;
  Type i32 = b.getI32Type();
  Value threadInQuad = arith::RemUIOp::create(b, lane, tiles.index(4));
  Value shift =
      arith::MulIOp::create(b, arith::IndexCastOp::create(b, i32, threadInQuad),
                            tiles.i32Constant(4));
  SmallVector<Value, 2> words;
  for (int64_t quarter = 0; quarter < 2; ++quarter) {
    Value word = arith::OrIOp::create(
        b, arith::ShLIOp::create(b, upper[quarter].nibble, shift),
        arith::ShLIOp::create(
            b, lower[quarter].nibble,
            arith::AddIOp::create(b, shift, tiles.i32Constant(16))));
    for (int32_t offset : {1, 2})
      word = arith::OrIOp::create(
          b, word,
          gpu::ShuffleOp::create(b, word, offset, 32, gpu::ShuffleMode::XOR)
              .getShuffleResult());
    words.push_back(word);
  }
  Value isSecond = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                         threadInQuad, tiles.index(1));
  return arith::SelectOp::create(b, isSecond, words[1], words[0]);
}

void attn::accumulateSparseValueProduct(
    KernelBuilder &tiles, const SparseValueProduct &shape,
    SmallVector<Value> &state, function_ref<int64_t(int64_t, int64_t)> accIndex,
    ArrayRef<SmallVector<KeptPair>> kept, ArrayRef<SmallVector<Value>> metadata,
    Value valueTile, Value lane) {
  ImplicitLocOpBuilder &b = tiles.b;
  int64_t chunks = shape.blockK / 32, slices = shape.valueDim / 8;
  Value group = arith::DivUIOp::create(b, lane, tiles.index(4));
  Value laneRow = arith::AddIOp::create(
      b,
      arith::AddIOp::create(
          b,
          arith::MulIOp::create(
              b, arith::RemUIOp::create(b, group, tiles.index(4)),
              tiles.index(8)),
          arith::MulIOp::create(
              b, arith::DivUIOp::create(b, group, tiles.index(4)),
              tiles.index(4))),
      arith::RemUIOp::create(b, lane, tiles.index(4)));
  Value mask = shape.swizzled ? rowBlockSwizzle(tiles, laneRow) : Value();
  SmallVector<SmallVector<SmallVector<Value>>> operands(shape.rowTiles);
  for (int64_t r = 0; r < shape.rowTiles; ++r)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      SmallVector<Value> a;
      for (int64_t quarter = 0; quarter < 2; ++quarter)
        for (int64_t half = 0; half < 2; ++half) {
          const KeptPair &pair = kept[2 * r + half][2 * chunk + quarter];
          a.push_back(tiles.roundPair(pair.firstValue, pair.secondValue,
                                      shape.elementType));
        }
      operands[r].push_back(std::move(a));
    }
  auto loadValueBlock = [&](int64_t block) {
    int64_t chunk = block / slices, e = block % slices;
    return tiles.loadMatrices(
        valueTile, arith::AddIOp::create(b, laneRow, tiles.index(32 * chunk)),
        mask ? Value(arith::XOrIOp::create(b, tiles.index(8 * e), mask))
             : tiles.index(8 * e),
        /*transpose=*/true);
  };
  int64_t blocks = chunks * slices;
  SmallVector<Value> next = loadValueBlock(0);
  for (int64_t block = 0; block < blocks; ++block) {
    SmallVector<Value> v = std::move(next);
    if (block + 1 < blocks)
      next = loadValueBlock(block + 1);
    int64_t chunk = block / slices, e = block % slices;
    for (int64_t r = 0; r < shape.rowTiles; ++r) {
      int64_t index = accIndex(r, e);
      ArrayRef<Value> acc(state.data() + index, 4);
      SmallVector<Value> updated =
          tiles.mmaSparse(operands[r][chunk], v, acc, metadata[r][chunk],
                          shape.isBF16, shape.orderedMetadata);
      std::copy(updated.begin(), updated.end(), state.begin() + index);
    }
  }
}
