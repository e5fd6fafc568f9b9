//===- FusedLinear.cpp - the sm_80 emitter of attn.fused.linear -*- C++ -*-===//
//
// One block runs one token range of one (batch, head) for Ev = 128 value
// columns with eight warps (Ev = 64 with four when E is not a multiple of
// 128; the launch gives each range E / Ev blocks), chunk by chunk (Bt = 64
// tokens, a, c positions inside the chunk, r its length, λ = exp(-s)):
//
//   O[a]  = λ^(a+1) q_a KV  +  Σ_{c<=a} λ^(a-c) <q_a, k_c> v_c
//   KV   <- λ^r KV + Σ_{c<r} λ^(r-1-c) k_cᵀ v_c
//
//  - Q, K and the V slice of a chunk go through two shared-memory stages
//    filled by cp.async: the chunk after next is issued after the
//    iteration's one barrier, into the stage every warp has finished
//    reading;
//  - warp w owns chunk rows 16 (w mod 4) .. + 15 for S and O (value
//    columns 64 (w / 4) .. + 63 of O: with eight warps two warps compute
//    the same S, which costs mma but no memory traffic), and value columns
//    16w .. 16w + 15 of the state: the state lives transposed,
//    KVᵀ [Ev, D] in f32, as mma accumulators in registers (D / 2 per
//    thread), loop-carried;
//  - S = Q Kᵀ and the inter term Q · KV share each k-step's Q fragments
//    (ldmatrix.x4); the inter term reads a 16-bit copy of KVᵀ that the
//    previous chunk wrote to shared memory after a second barrier (one
//    buffer),
//    and its rows are scaled by λ^(a+1);
//  - the decay mask multiplies S by λ^(a-c) (0 above the diagonal) on the
//    fragments, with ex2.approx.ftz of -s·log2(e)·(a - c); the masked S
//    is rounded in pairs and used directly as the A operand of P V (the
//    FlashAttention-2 register trick), accumulating onto the inter term;
//  - the state update is an mma with A = Vᵀ (ldmatrix.x4.trans of the V
//    slice, each column c scaled by λ^(r-1-c) in registers, 0 for c >= r)
//    and B = K (ldmatrix.x4.trans), onto the accumulators scaled by λ^r;
//  - O is stored from the fragments (rows past the range's end are not);
//    state_out / final_state from the accumulators in f32.
// The decay weights are LinearDecay.h's w(e) = e >= 0 ? exp(-s e) : 0,
// the CPU decomposition's formula, through exp2: a table of w(e) for e in
// [-Bt, Bt] in shared memory, filled once per block, makes each weight
// one load (a - c, r - 1 - c, a + 1 and r all lie in that range). Without
// `decay` every weight is 1: only the causal mask remains.
//
//===----------------------------------------------------------------------===//

#include "FusedLinear.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <array>
#include <cmath>

using namespace mlir;
using namespace attn;

/// Chunk length the emitter takes: four warps of 16 rows.
static constexpr int64_t kChunk = 64;
/// The decay table: entry kChunk + e holds w(e) = λ^e for e in [0,
/// kChunk], entries below kChunk hold 0 (w of a negative exponent), so
/// that every weight of a chunk is one shared-memory load and no compare.
static constexpr int64_t kDecayTableSize = 2 * kChunk + 1;

static Type f32Type(FusedLinearOp step) {
  return Float32Type::get(step.getContext());
}

FailureOr<Sm80FusedLinearPlan>
attn::planSm80FusedLinear(FusedLinearOp step, const TargetInfo &target,
                          std::string &whyNot) {
  Type element = cast<MemRefType>(step.getQuery().getType()).getElementType();
  int64_t headDim = step.getHeadDim(), valueDim = step.getValueDim();
  Sm80FusedLinearPlan plan;
  if (!element.isBF16()) {
    std::string name;
    llvm::raw_string_ostream(name) << element;
    whyNot = "its inputs are " + name +
             "; the GPU lowering of linear attention takes bf16 (the "
             "16-bit copy of the KV state needs bf16's exponent range)";
    return failure();
  }
  if (step.getBlock() != kChunk) {
    whyNot = "linear-block = " + std::to_string(step.getBlock()) +
             "; the sm_80 emitter runs chunks of " + std::to_string(kChunk) +
             " tokens";
    return failure();
  }
  if (headDim < 16 || headDim > 128 || headDim % 16 != 0) {
    whyNot = "the head dimension D = " + std::to_string(headDim) +
             " is not a multiple of 16 between 16 and 128";
    return failure();
  }
  if (valueDim % 64 != 0 || valueDim > 512) {
    whyNot = "the value head dimension E = " + std::to_string(valueDim) +
             " is not a multiple of 64 up to 512";
    return failure();
  }
  // One block per 128 value columns (eight warps) where E allows, so that
  // Q and K are read once; else 64 (four warps).
  plan.valueSlice = valueDim % 128 == 0 ? 128 : 64;
  plan.threads = 2 * plan.valueSlice;
  plan.slices = valueDim / plan.valueSlice;
  Type bf16 = element;
  bool withOutput = static_cast<bool>(step.getOutput());
  MemRefType rowsTile = MemRefType::get({kChunk, headDim}, bf16);
  if (withOutput)
    plan.sharedMemory.add(paddedType(rowsTile, 2)); // Q
  plan.sharedMemory.add(paddedType(rowsTile, 2));   // K
  plan.sharedMemory.add(
      paddedType(MemRefType::get({kChunk, plan.valueSlice}, bf16), 2)); // V
  if (withOutput)
    plan.sharedMemory.add(paddedType(
        MemRefType::get({plan.valueSlice, headDim}, bf16))); // KVᵀ copy
  if (step.getDecay())
    plan.sharedMemory.add(
        paddedType(MemRefType::get({kDecayTableSize}, f32Type(step))));
  if (plan.sharedMemory.getBytes() > target.maxSharedMemoryBytes) {
    whyNot = "its tiles need " + std::to_string(plan.sharedMemory.getBytes()) +
             " bytes of shared memory, more than the " +
             std::to_string(target.maxSharedMemoryBytes) + " a block has";
    return failure();
  }
  return plan;
}

void attn::emitSm80FusedLinear(KernelBuilder &kernel, FusedLinearOp step,
                               IRMapping &mapping,
                               const Sm80FusedLinearPlan &plan,
                               ArrayRef<Value> buffers, Value slice) {
  ImplicitLocOpBuilder &b = kernel.b;
  auto operand = [&](Value value) { return mapping.lookupOrDefault(value); };
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Type bf16 = cast<MemRefType>(step.getQuery().getType()).getElementType();
  int64_t headDim = step.getHeadDim(), valueSlice = plan.valueSlice;
  int64_t threads = plan.threads;
  bool withOutput = static_cast<bool>(step.getOutput());
  bool hasDecay = static_cast<bool>(step.getDecay());
  MemRefType rowsTile = MemRefType::get({kChunk, headDim}, bf16);
  MemRefType valueTile = MemRefType::get({kChunk, valueSlice}, bf16);
  MemRefType stateTile = MemRefType::get({valueSlice, headDim}, bf16);
  unsigned next = 0;
  Value queryBuffer = withOutput ? buffers[next++] : Value();
  Value keyBuffer = buffers[next++];
  Value valueBuffer = buffers[next++];
  Value stateBuffer = withOutput ? buffers[next++] : Value();
  Value decayTable = hasDecay ? buffers[next++] : Value();

  Value query = operand(step.getQuery()), key = operand(step.getKey()),
        value = operand(step.getValue());
  Value batch = operand(step.getBatch()), head = operand(step.getHead());
  Value begin = operand(step.getTokenBegin()),
        end = operand(step.getTokenEnd());
  Value firstValueCol =
      arith::MulIOp::create(b, slice, kernel.index(valueSlice));
  auto index = [&](int64_t v) { return kernel.index(v); };
  auto plus = [&](Value base, int64_t offset) -> Value {
    return arith::AddIOp::create(b, base, index(offset));
  };
  auto toFloat = [&](Value indexValue) -> Value {
    return arith::SIToFPOp::create(
        b, f32, arith::IndexCastOp::create(b, i32, indexValue));
  };

  // The decay table (kDecayTableSize): thread i writes entries i, i +
  // threads, ..:
  // 2^(-s log2(e) (i - kChunk)) or 0; the loop's first barrier publishes
  // it. weightAt(base, offset) reads w(base + offset - kChunk), `base` an
  // index computed from kernel.opaque in the loop body so that the
  // constant offsets stay immediates of the loads (see opaque).
  if (hasDecay) {
    Value negRateLog2 =
        arith::MulFOp::create(b, step.buildRate(b, b.getLoc(), mapping),
                              kernel.f32(static_cast<float>(-M_LOG2E)));
    auto entries = scf::ForOp::create(b, kernel.threadId,
                                      index(kDecayTableSize), index(threads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(entries.getBody());
    Value entry = entries.getInductionVar();
    Value exponent = toFloat(arith::SubIOp::create(b, entry, index(kChunk)));
    Value weight =
        kernel.exp2FlushToZero(arith::MulFOp::create(b, negRateLog2, exponent));
    memref::StoreOp::create(
        b,
        arith::SelectOp::create(b,
                                arith::CmpIOp::create(b,
                                                      arith::CmpIPredicate::uge,
                                                      entry, index(kChunk)),
                                weight, kernel.f32(0.0f)),
        decayTable, ValueRange{entry});
  }
  auto weightAt = [&](Value base, int64_t offset) -> Value {
    return memref::LoadOp::create(b, decayTable,
                                  ValueRange{plus(base, offset)});
  };

  // Lane coordinates and the two ldmatrix.x4 address patterns (lane l
  // names row l % 8 of matrix l / 8): `rowsFirst` puts matrices 1 and 3
  // 8 rows down and 2 and 3 8 columns right (an A operand, or a
  // transposed B from [k, n] storage); `colsFirst` puts 1 and 3 8 columns
  // right and 2 and 3 8 rows down (a B operand from [n, k] storage, or a
  // transposed A from [k, m] storage).
  KernelBuilder::LaneCoords coords = kernel.laneCoords();
  Value lane = coords.lane, warp = coords.warp, g = coords.g,
        twoT = coords.twoT;
  Value laneRow8 = arith::RemUIOp::create(b, lane, index(8));
  Value matrix = arith::DivUIOp::create(b, lane, index(8));
  Value matrixLow = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, matrix, index(2)), index(8));
  Value matrixHigh = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, matrix, index(2)), index(8));
  struct LanePattern {
    Value row, col;
  };
  LanePattern rowsFirst{arith::AddIOp::create(b, laneRow8, matrixLow),
                        matrixHigh};
  LanePattern colsFirst{arith::AddIOp::create(b, laneRow8, matrixHigh),
                        matrixLow};
  // Warp w: chunk rows 16 (w mod 4) .. of S and O, for the 64 value
  // columns 64 (w / 4) .. of the slice; state rows (value columns) 16 w ..
  Value warpRow = arith::MulIOp::create(
      b, arith::RemUIOp::create(b, warp, index(4)), index(16));
  Value warpValueCol = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, warp, index(4)), index(64));
  Value warpStateRow = arith::MulIOp::create(b, warp, index(16));
  auto loadMatrices = [&](Value tile, const LanePattern &pattern, Value rowBase,
                          Value colBase, bool transpose) {
    return kernel.loadMatrices(
        tile, arith::AddIOp::create(b, rowBase, pattern.row),
        arith::AddIOp::create(b, colBase, pattern.col), transpose);
  };

  // The state, KVᵀ [Ev, D]: stateRegs[4 n + k] holds value row 16w + g +
  // 8 (k / 2), key dim 8 n + 2t + k % 2.
  int64_t dimSlices = headDim / 8, valueSlices = 64 / 8;
  auto stateCoords = [&](int64_t n, int64_t k) -> std::pair<Value, Value> {
    Value row = arith::AddIOp::create(
        b, arith::AddIOp::create(b, warpStateRow, g), index(8 * (k / 2)));
    Value col = arith::AddIOp::create(b, twoT, index(8 * n + k % 2));
    return {row, col};
  };
  SmallVector<Value> initialState;
  if (Value stateIn = step.getStateIn()) {
    Value source = operand(stateIn);
    Value rowIn = operand(step.getStateInRow());
    for (int64_t n = 0; n < dimSlices; ++n)
      for (int64_t k = 0; k < 4; ++k) {
        auto [e, d] = stateCoords(n, k);
        initialState.push_back(memref::LoadOp::create(
            b, source,
            ValueRange{batch, head, arith::AddIOp::create(b, rowIn, d),
                       arith::AddIOp::create(b, firstValueCol, e)}));
      }
  } else {
    initialState.assign(4 * dimSlices, kernel.f32(0.0f));
  }
  // Writes the 16-bit copy of the state.
  auto writeStateCopy = [&](ValueRange state) {
    Value copy = tileView(b, stateBuffer, stateTile, Value());
    for (int64_t n = 0; n < dimSlices; ++n)
      for (int64_t half = 0; half < 2; ++half) {
        auto [e, d] = stateCoords(n, 2 * half);
        Value pair = vector::FromElementsOp::create(
            b, VectorType::get({2}, f32),
            ValueRange{state[4 * n + 2 * half], state[4 * n + 2 * half + 1]});
        vector::StoreOp::create(
            b, arith::TruncFOp::create(b, VectorType::get({2}, bf16), pair),
            copy, ValueRange{e, d}, /*nontemporal=*/false, llvm::MaybeAlign(4));
      }
  };
  if (withOutput)
    writeStateCopy(initialState);

  // Chunks of the range; chunk i lives in stage i mod 2.
  Value chunks = arith::CeilDivUIOp::create(
      b, arith::SubIOp::create(b, end, begin), index(kChunk));
  auto chunkStart = [&](Value i) -> Value {
    return arith::AddIOp::create(b, begin,
                                 arith::MulIOp::create(b, i, index(kChunk)));
  };
  auto stageOf = [&](Value i) -> Value {
    return arith::RemUIOp::create(b, i, index(2));
  };
  auto issue = [&](Value i, Value enabled) {
    Value first = chunkStart(i), stage = stageOf(i);
    if (withOutput)
      issueTileCopy(kernel, threads, query, batch, head, first, queryBuffer,
                    stage, kChunk, headDim, enabled);
    issueTileCopy(kernel, threads, key, batch, head, first, keyBuffer, stage,
                  kChunk, headDim, enabled);
    issueTileCopy(kernel, threads, value, batch, head, first, valueBuffer,
                  stage, kChunk, valueSlice, enabled, /*rowOrder=*/Value(),
                  /*swizzled=*/false, firstValueCol);
    NVVM::CpAsyncCommitGroupOp::create(b);
  };
  issue(index(0),
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, index(0), chunks));

  Value outputRows =
      withOutput ? memref::DimOp::create(b, operand(step.getOutput()), 2)
                 : Value();
  auto loop = scf::ForOp::create(b, index(0), chunks, index(1), initialState);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value i = loop.getInductionVar();
    SmallVector<Value> state(loop.getRegionIterArgs());
    // Chunk i has landed for this thread, then for every thread; chunk
    // i + 1 goes into the stage chunk i - 1 used, which every warp is past.
    NVVM::CpAsyncWaitGroupOp::create(b, 0);
    gpu::BarrierOp::create(b);
    Value nextChunk = arith::AddIOp::create(b, i, index(1));
    issue(nextChunk, arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                           nextChunk, chunks));
    Value stage = stageOf(i);
    Value first = chunkStart(i);
    Value keys = tileView(b, keyBuffer, rowsTile, stage);
    Value values = tileView(b, valueBuffer, valueTile, stage);
    // r = min(Bt, end - first).
    Value length = arith::MinUIOp::create(b, index(kChunk),
                                          arith::SubIOp::create(b, end, first));

    if (withOutput) {
      Value queries = tileView(b, queryBuffer, rowsTile, stage);
      Value stateCopy = tileView(b, stateBuffer, stateTile, Value());
      SmallVector<Value> scores(4 * (kChunk / 8), kernel.f32(0.0f));
      SmallVector<Value> acc(4 * valueSlices, kernel.f32(0.0f));
      auto accumulate = [&](SmallVector<Value> &target, int64_t fragment,
                            ArrayRef<Value> a, Value b0, Value b1) {
        SmallVector<Value> c(target.begin() + 4 * fragment,
                             target.begin() + 4 * fragment + 4);
        SmallVector<Value> result = kernel.mma(a, {b0, b1}, c, true);
        std::copy(result.begin(), result.end(), target.begin() + 4 * fragment);
      };
      // S = Q Kᵀ and acc = Q · KV, sharing each k-step's Q fragments.
      for (int64_t ks = 0; ks < headDim / 16; ++ks) {
        SmallVector<Value> qa =
            loadMatrices(queries, rowsFirst, warpRow, index(16 * ks), false);
        for (int64_t np = 0; np < kChunk / 16; ++np) {
          SmallVector<Value> kb = loadMatrices(keys, colsFirst, index(16 * np),
                                               index(16 * ks), false);
          accumulate(scores, 2 * np, qa, kb[0], kb[1]);
          accumulate(scores, 2 * np + 1, qa, kb[2], kb[3]);
        }
        for (int64_t np = 0; np < 64 / 16; ++np) {
          SmallVector<Value> sb =
              loadMatrices(stateCopy, colsFirst, plus(warpValueCol, 16 * np),
                           index(16 * ks), false);
          accumulate(acc, 2 * np, qa, sb[0], sb[1]);
          accumulate(acc, 2 * np + 1, qa, sb[2], sb[3]);
        }
      }
      // Rows a = 16w + g + 8 half: the inter term times λ^(a+1), the
      // scores times λ^(a-c) (0 for c > a). With the table: a - c =
      // diagonal + 8 half - 8 n - j - kChunk for column 8 n + 2t + j, where
      // diagonal = 16w + g - 2t + kChunk. Without decay only the mask.
      Value row = kernel.opaque(arith::AddIOp::create(b, warpRow, g));
      Value diagonal = plus(arith::SubIOp::create(b, row, twoT), kChunk);
      Value diagonalF =
          hasDecay ? Value() : toFloat(arith::SubIOp::create(b, row, twoT));
      for (int64_t half = 0; half < 2; ++half) {
        if (hasDecay) {
          Value rowWeight = weightAt(row, kChunk + 8 * half + 1);
          for (int64_t n = 0; n < valueSlices; ++n)
            for (int64_t j = 0; j < 2; ++j) {
              Value &element = acc[4 * n + 2 * half + j];
              element = arith::MulFOp::create(b, element, rowWeight);
            }
        }
        for (int64_t n = 0; n < kChunk / 8; ++n)
          for (int64_t j = 0; j < 2; ++j) {
            Value &element = scores[4 * n + 2 * half + j];
            int64_t offset = 8 * half - 8 * n - j;
            if (hasDecay) {
              element =
                  arith::MulFOp::create(b, element, weightAt(diagonal, offset));
              continue;
            }
            Value allowed = arith::CmpFOp::create(
                b, arith::CmpFPredicate::OGE,
                arith::AddFOp::create(b, diagonalF,
                                      kernel.f32(static_cast<float>(offset))),
                kernel.f32(0.0f));
            element =
                arith::SelectOp::create(b, allowed, element, kernel.f32(0.0f));
          }
      }
      // acc += P V, P's accumulator pairs as the A operand.
      for (int64_t kk = 0; kk < kChunk / 16; ++kk) {
        auto pair = [&](int64_t fragment, int64_t k) {
          return kernel.roundPair(scores[4 * fragment + k],
                                  scores[4 * fragment + k + 1], bf16);
        };
        SmallVector<Value> pa{pair(2 * kk, 0), pair(2 * kk, 2),
                              pair(2 * kk + 1, 0), pair(2 * kk + 1, 2)};
        for (int64_t np = 0; np < 64 / 16; ++np) {
          SmallVector<Value> vb =
              loadMatrices(values, rowsFirst, index(16 * kk),
                           plus(warpValueCol, 16 * np), true);
          accumulate(acc, 2 * np, pa, vb[0], vb[1]);
          accumulate(acc, 2 * np + 1, pa, vb[2], vb[3]);
        }
      }
      // O rows first + a that lie before the range's end.
      Value output = operand(step.getOutput());
      for (int64_t half = 0; half < 2; ++half) {
        Value row = arith::AddIOp::create(
            b, first,
            arith::AddIOp::create(b, arith::AddIOp::create(b, warpRow, g),
                                  index(8 * half)));
        Value inRange = arith::AndIOp::create(
            b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, end),
            arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row,
                                  outputRows));
        auto ifRow = scf::IfOp::create(b, inRange, /*withElseRegion=*/false);
        OpBuilder::InsertionGuard rowGuard(b);
        b.setInsertionPointToStart(ifRow.thenBlock());
        for (int64_t n = 0; n < valueSlices; ++n) {
          Value col = arith::AddIOp::create(
              b, arith::AddIOp::create(b, firstValueCol, warpValueCol),
              arith::AddIOp::create(b, twoT, index(8 * n)));
          Value pair = vector::FromElementsOp::create(
              b, VectorType::get({2}, f32),
              ValueRange{acc[4 * n + 2 * half], acc[4 * n + 2 * half + 1]});
          vector::StoreOp::create(
              b, arith::TruncFOp::create(b, VectorType::get({2}, bf16), pair),
              output, ValueRange{batch, head, row, col},
              /*nontemporal=*/false, llvm::MaybeAlign(4));
        }
      }
    }

    // KVᵀ <- λ^r KVᵀ + (Vᵀ diag(λ^(r-1-c))) K. A = Vᵀ: value rows 16w ..,
    // chunk columns c; its registers hold columns 2t + j (a0, a1) and
    // 2t + 8 + j (a2, a3) of each k16 block.
    // The table index of λ^(r - 1 - 2t), this lane's first column.
    Value lastMinusLane;
    if (hasDecay) {
      Value opaqueLength = kernel.opaque(length);
      Value chunkWeight = weightAt(opaqueLength, kChunk);
      for (Value &element : state)
        element = arith::MulFOp::create(b, element, chunkWeight);
      lastMinusLane =
          plus(arith::SubIOp::create(b, opaqueLength, twoT), kChunk - 1);
    }
    auto unpackPair = [&](Value reg) -> std::pair<Value, Value> {
      Value word =
          vector::FromElementsOp::create(b, VectorType::get({1}, i32), reg);
      Value pair =
          vector::BitCastOp::create(b, VectorType::get({2}, bf16), word);
      Value wide = arith::ExtFOp::create(b, VectorType::get({2}, f32), pair);
      return {vector::ExtractOp::create(b, wide, ArrayRef<int64_t>{0}),
              vector::ExtractOp::create(b, wide, ArrayRef<int64_t>{1})};
    };
    for (int64_t kk = 0; kk < kChunk / 16; ++kk) {
      SmallVector<Value> va =
          loadMatrices(values, colsFirst, index(16 * kk), warpStateRow, true);
      if (hasDecay)
        for (int64_t reg = 0; reg < 4; ++reg) {
          auto [low, high] = unpackPair(va[reg]);
          SmallVector<Value, 2> scaled;
          std::array<Value, 2> elements{low, high};
          for (auto [j, element] : llvm::enumerate(elements)) {
            scaled.push_back(arith::MulFOp::create(
                b, element,
                weightAt(lastMinusLane, -(16 * kk + 8 * (reg / 2) +
                                          static_cast<int64_t>(j)))));
          }
          va[reg] = kernel.roundPair(scaled[0], scaled[1], bf16);
        }
      for (int64_t np = 0; np < headDim / 16; ++np) {
        SmallVector<Value> kb =
            loadMatrices(keys, rowsFirst, index(16 * kk), index(16 * np), true);
        for (int64_t half = 0; half < 2; ++half) {
          int64_t fragment = 2 * np + half;
          SmallVector<Value> c(state.begin() + 4 * fragment,
                               state.begin() + 4 * fragment + 4);
          SmallVector<Value> result =
              kernel.mma(va, {kb[2 * half], kb[2 * half + 1]}, c, true);
          std::copy(result.begin(), result.end(), state.begin() + 4 * fragment);
        }
      }
    }
    // Every warp has read the copy (the inter term) before it changes.
    if (withOutput) {
      gpu::BarrierOp::create(b);
      writeStateCopy(state);
    }
    scf::YieldOp::create(b, state);
  }
  // No copy may still be in flight when the block exits.
  NVVM::CpAsyncWaitGroupOp::create(b, 0);

  // The state after the range, in f32.
  auto storeState = [&](Value target, Value firstRow) {
    for (int64_t n = 0; n < dimSlices; ++n)
      for (int64_t k = 0; k < 4; ++k) {
        auto [e, d] = stateCoords(n, k);
        memref::StoreOp::create(
            b, loop.getResult(4 * n + k), target,
            ValueRange{batch, head, arith::AddIOp::create(b, firstRow, d),
                       arith::AddIOp::create(b, firstValueCol, e)});
      }
  };
  if (Value stateOut = step.getStateOut())
    storeState(operand(stateOut), operand(step.getStateOutRow()));
  if (Value finalState = step.getFinalState()) {
    Value atEnd = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, end,
                                        memref::DimOp::create(b, key, 2));
    auto ifEnd = scf::IfOp::create(b, atEnd, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifEnd.thenBlock());
    storeState(operand(finalState), index(0));
  }
}
