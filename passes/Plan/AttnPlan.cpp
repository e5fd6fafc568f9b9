//===- AttnPlan.cpp - mask analysis: attn.attention -> attn.plan -*- C++ -*-===//
//
// attn-plan reduces the mask tree of each attn.attention to the L1 form:
//
//   1. Walk the mask tree. Every mask the planner understands contributes
//      to one of two parts:
//        - a band on delta = j - (i + Nk - Nq), the key position relative to
//          the bottom-right diagonal: causal gives delta <= 0, a window of w
//          keys gives -(w - 1) <= delta <= 0. `and` intersects bands (max of
//          lower bounds, min of upper bounds).
//        - a list of opaque predicates (attn.mask.custom regions), to be
//          conjoined.
//   2. The schedule follows from the band: with a band only the kv-tiles
//      that intersect it are visited (`range`); without one all are
//      (`dense`). Predicates never shrink the schedule: the planner cannot
//      see inside them.
//   3. Emit attn.plan with the resolved scale, the schedule, the band, and a
//      predicate region whose body is the clone of every custom region, with
//      their results combined by arith.andi. The attention op and the mask
//      ops left without users are erased.
//
// Structures that need preprocessing (hash, drop, N:M, block masks) are
// reported with a located error until their analysis lands.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

namespace attn {
#define GEN_PASS_DEF_ATTNPLAN
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

namespace {
/// What the planner learned from a mask tree.
struct MaskPlan {
  std::optional<int64_t> bandLower, bandUpper;
  SmallVector<MaskCustomOp> predicates;

  void intersectBand(std::optional<int64_t> lower,
                     std::optional<int64_t> upper) {
    if (lower)
      bandLower = bandLower ? std::max(*bandLower, *lower) : *lower;
    if (upper)
      bandUpper = bandUpper ? std::min(*bandUpper, *upper) : *upper;
  }
};
} // namespace

/// Folds the mask tree rooted at `mask` into `plan`. Fails with a located
/// error at `user` (and a note at the mask) on a structure the planner does
/// not handle.
static LogicalResult analyseMask(Operation *user, Value mask, MaskPlan &plan) {
  Operation *def = mask.getDefiningOp();
  if (!def)
    return user->emitOpError() << "attn-plan: mask is not produced by an "
                                  "attn.mask.* op";
  return llvm::TypeSwitch<Operation *, LogicalResult>(def)
      .Case([&](MaskCausalOp) {
        plan.intersectBand(std::nullopt, 0);
        return success();
      })
      .Case([&](MaskWindowOp op) {
        plan.intersectBand(-(op.getSize() - 1), 0);
        return success();
      })
      .Case([&](MaskCustomOp op) {
        plan.predicates.push_back(op);
        return success();
      })
      .Case([&](MaskAndOp op) {
        for (Value operand : op.getMasks())
          if (failed(analyseMask(user, operand, plan)))
            return failure();
        return success();
      })
      .Default([&](Operation *op) {
        InFlightDiagnostic diag =
            user->emitOpError()
            << "attn-plan: mask '" << op->getName()
            << "' is not supported by the planner yet (supported: causal, "
               "window, custom and their 'and')";
        diag.attachNote(op->getLoc()) << "mask defined here";
        return diag;
      });
}

/// Builds the predicate region of `planOp`: the conjunction of the cloned
/// bodies of `predicates`.
static void buildPredicateRegion(OpBuilder &builder, PlanOp planOp,
                                 ArrayRef<MaskCustomOp> predicates) {
  if (predicates.empty())
    return;
  Location loc = planOp.getLoc();
  Type indexType = builder.getIndexType();
  Block *block = builder.createBlock(&planOp.getPredicate(), {},
                                     {indexType, indexType}, {loc, loc});
  Value allowed;
  for (MaskCustomOp custom : predicates) {
    Block &body = custom.getPredicate().front();
    IRMapping mapping;
    mapping.map(body.getArgument(0), block->getArgument(0));
    mapping.map(body.getArgument(1), block->getArgument(1));
    for (Operation &op : body.without_terminator())
      builder.clone(op, mapping);
    Value result =
        mapping.lookup(cast<YieldOp>(body.getTerminator()).getValue());
    allowed = allowed ? arith::AndIOp::create(builder, loc, allowed, result)
                            .getResult()
                      : result;
  }
  YieldOp::create(builder, loc, allowed);
}

/// Erases `mask` and, recursively, the mask ops it used, where nothing else
/// uses them.
static void eraseDeadMaskTree(Value mask) {
  Operation *def = mask.getDefiningOp();
  if (!def || !isa<AttnDialect>(def->getDialect()) || !def->use_empty())
    return;
  SmallVector<Value> operands(def->getOperands());
  def->erase();
  for (Value operand : operands)
    if (isa<MaskType>(operand.getType()))
      eraseDeadMaskTree(operand);
}

namespace {
struct AttnPlanPass : public attn::impl::AttnPlanBase<AttnPlanPass> {
  void runOnOperation() override {
    SmallVector<AttentionOp> attentions;
    getOperation()->walk([&](AttentionOp op) { attentions.push_back(op); });
    bool anyFailed = false;
    for (AttentionOp op : attentions)
      if (failed(planAttention(op)))
        anyFailed = true;
    if (anyFailed)
      signalPassFailure();
  }

  LogicalResult planAttention(AttentionOp op) {
    MaskPlan plan;
    Value mask = op.getMask();
    if (mask && failed(analyseMask(op, mask, plan)))
      return failure();

    OpBuilder builder(op);
    bool hasBand = plan.bandLower || plan.bandUpper;
    auto planOp = PlanOp::create(
        builder, op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
        op.getOutput(), op.getLse(),
        builder.getF32FloatAttr(static_cast<float>(op.getEffectiveScale())),
        ScheduleKindAttr::get(builder.getContext(),
                              hasBand ? ScheduleKind::Range
                                      : ScheduleKind::Dense),
        plan.bandLower ? builder.getI64IntegerAttr(*plan.bandLower)
                       : IntegerAttr(),
        plan.bandUpper ? builder.getI64IntegerAttr(*plan.bandUpper)
                       : IntegerAttr());
    buildPredicateRegion(builder, planOp, plan.predicates);
    op.erase();
    if (mask)
      eraseDeadMaskTree(mask);
    return success();
  }
};
} // namespace
