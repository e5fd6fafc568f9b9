//===- LinearTile.cpp - attn.linear_attention to its L2 form ----*- C++ -*-===//
//
// attn-tile writes each attn.linear_attention (Q, K: [B, H, N, D], V, O:
// [B, H, N, E]) as a two-phase scheme over segments of L tokens, S =
// ceil(N / L) per (batch, head), so that the work spreads over B·H·S
// blocks however small B·H is (SEMANTICS.md, "Linear tiles"). L is
// `segment`, or with segment = 0 chosen at run time so that B·H·S is
// about `units` (whole chunks; S = 1 once B·H >= units, and then there is
// no phase 1):
//
//   states = scratch [B, H, S·D, E] f32                     ("linear_states")
//   // 1. per segment, the state it adds when started from 0 (Δ_s)
//   scf.forall (b, h, s) in (B, H, S):
//     attn.fused.linear ... state_out(states [s·D])
//         tokens(s·L, s + 1 < S ? s·L + L : s·L)   // the last needs none
//   // 2. the state before each segment, initial state included
//   attn.linear_scan states decay(...) initial(...) segment(L)
//   // 3. per segment, its outputs from its start state; the last segment
//   //    writes the final state
//   scf.forall (b, h, s) in (B, H, S):
//     attn.fused.linear ... outs(O) state_in(states [s·D]) final_state(...)
//         tokens(s·L, min(s·L + L, N))
//
// Phase 1 reads K and V once more than a single pass would; with N <= L
// it has nothing to do (one segment, whose phase-1 step is empty) and the
// scan only copies the initial state. Memory is O(N) plus S states.
// N = 0 runs no step: O is empty and the final state is not written.
//
//===----------------------------------------------------------------------===//

#include "LinearTile.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace attn;

/// `state` with its last two extents made static ([B, H, D, E]), so that
/// tiles of [D, E] can be loaded from and stored to it.
static Value withStaticStateExtents(ImplicitLocOpBuilder &b, Value state,
                                    int64_t headDim, int64_t valueDim) {
  if (!state)
    return state;
  auto type = cast<MemRefType>(state.getType());
  SmallVector<int64_t> shape(type.getShape());
  shape[2] = headDim;
  shape[3] = valueDim;
  auto wanted = MemRefType::get(shape, type.getElementType());
  if (wanted == type)
    return state;
  return memref::CastOp::create(b, wanted, state);
}

LogicalResult attn::tileLinearAttention(LinearAttentionOp op, int64_t block,
                                        int64_t segment, int64_t units) {
  if (block < 16 || block > 256 || !llvm::isPowerOf2_64(block))
    return op.emitOpError() << "attn-tile: linear-block = " << block
                            << " must be a power of two between 16 and 256";
  if (segment < 0 || (segment != 0 && segment % block != 0))
    return op.emitOpError() << "attn-tile: linear-segment = " << segment
                            << " must be 0 (chosen at run time) or a positive "
                               "multiple of linear-block ("
                            << block << ")";
  if (units < 1 || units > (1 << 24))
    return op.emitOpError() << "attn-tile: linear-units = " << units
                            << " must be between 1 and 2^24";
  ImplicitLocOpBuilder b(op.getLoc(), op);
  Value q = op.getQuery();
  auto queryType = cast<MemRefType>(q.getType());
  int64_t headDim = queryType.getDimSize(3);
  int64_t valueDim = cast<MemRefType>(op.getValue().getType()).getDimSize(3);
  auto index = [&](int64_t value) -> Value {
    return arith::ConstantIndexOp::create(b, value);
  };
  Value batch = memref::DimOp::create(b, q, 0);
  Value heads = memref::DimOp::create(b, q, 1);
  Value length = memref::DimOp::create(b, q, 2);
  // With segment = 0: L = Bt · ceildiv(ceildiv(N, Bt) · B · H + 1, units),
  // i.e. about units / (B · H) segments, whole chunks each; one segment
  // once B · H >= units. (No division by B · H: the runtime states the
  // grid with the same expression, and it must stay defined for B = 0.)
  Value segmentValue;
  if (segment != 0) {
    segmentValue = index(segment);
  } else {
    Value chunks = arith::CeilDivUIOp::create(b, length, index(block));
    Value work = arith::AddIOp::create(
        b,
        arith::MulIOp::create(b, arith::MulIOp::create(b, chunks, batch),
                              heads),
        index(1));
    segmentValue = arith::MulIOp::create(
        b, index(block), arith::CeilDivUIOp::create(b, work, index(units)));
  }
  Value segments = arith::CeilDivUIOp::create(b, length, segmentValue);

  auto statesType = MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic,
                                     ShapedType::kDynamic, valueDim},
                                    b.getF32Type());
  auto states = memref::AllocOp::create(
      b, statesType,
      ValueRange{batch, heads,
                 arith::MulIOp::create(b, segments, index(headDim))});
  states->setAttr(kScratchAttrName, b.getStringAttr("linear_states"));
  Value initial =
      withStaticStateExtents(b, op.getInitialState(), headDim, valueDim);
  Value finalState =
      withStaticStateExtents(b, op.getFinalState(), headDim, valueDim);

  // Builds one phase: a forall over (b, h, s) whose body `buildStep` fills
  // given the segment's first token and row block.
  auto buildPhase =
      [&](function_ref<void(Value, Value, Value, Value, Value)> buildStep) {
        auto forall = scf::ForallOp::create(
            b, ArrayRef<OpFoldResult>{batch, heads, segments}, ValueRange{},
            std::nullopt);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(forall.getBody());
        Value s = forall.getInductionVar(2);
        Value first = arith::MulIOp::create(b, s, segmentValue);
        Value rowBlock = arith::MulIOp::create(b, s, index(headDim));
        buildStep(forall.getInductionVar(0), forall.getInductionVar(1), s,
                  first, rowBlock);
      };
  IntegerAttr blockAttr = b.getI64IntegerAttr(block);
  buildPhase([&](Value bIdx, Value hIdx, Value s, Value first, Value rowBlock) {
    Value notLast =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                              arith::AddIOp::create(b, s, index(1)), segments);
    Value end = arith::SelectOp::create(
        b, notLast, arith::AddIOp::create(b, first, segmentValue), first);
    FusedLinearOp::create(b, q, op.getKey(), op.getValue(), Value(),
                          op.getDecay(), Value(), Value(), states, rowBlock,
                          Value(), bIdx, hIdx, first, end, blockAttr);
  });
  LinearScanOp::create(b, states, op.getDecay(), initial, segmentValue,
                       b.getI64IntegerAttr(headDim));
  buildPhase([&](Value bIdx, Value hIdx, Value, Value first, Value rowBlock) {
    Value end = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, first, segmentValue), length);
    FusedLinearOp::create(b, q, op.getKey(), op.getValue(), op.getOutput(),
                          op.getDecay(), states, rowBlock, Value(), Value(),
                          finalState, bIdx, hIdx, first, end, blockAttr);
  });
  memref::DeallocOp::create(b, states);
  op.erase();
  return success();
}
