//===- AttnPlan.cpp - mask analysis: attn.attention -> attn.plan -*- C++
//-*-===//
//
// attn-plan reduces the mask tree of each attn.attention to the L1 form. It
// never names a mask family: every attn.mask.* op implements
// MaskOpInterface (AttnInterfaces.td), and the planner folds over it.
//
//   1. Walk the mask tree with attn::visitMaskTree, which visits every
//      distinct mask op once (a mask value used twice, e.g. after CSE, is
//      folded once), parents before children. Each op contributes what it
//      alone says to one MaskPlan (MaskOpInterface::contributeToPlan):
//        - a band on delta = j - (i + Nk - Nq), the key position relative to
//          the bottom-right diagonal: causal gives delta <= 0, a window of w
//          keys gives -(w - 1) <= delta <= 0. Bands are intersected (max of
//          lower bounds, min of upper bounds), since every child mask allows
//          at least what its parent allows and `and` is a conjunction.
//        - a list of opaque predicates (attn.mask.custom regions), to be
//          conjoined.
//        - nothing, for a mask that only combines its children (`and`).
//        - a block mask (attn.mask.block) or a token order (hash buckets,
//          keep flags: attn.mask.hash, attn.mask.drop); attn-tile turns
//          either into the step's schedule and predicate.
//      A family without an analysis yet (N:M) fails with an error located
//      at the attention op and a note at the mask; the attention is left
//      as it was.
//   2. The schedule follows: a block mask or a token order gives `list`
//      (per-q-tile lists that attn-tile builds); else with a band only the
//      kv-tiles that intersect it are visited (`range`), without one all
//      are (`dense`). Custom predicates never shrink the schedule: the
//      planner cannot see inside them.
//   3. Emit attn.plan with the resolved scale, the schedule, the band, the
//      block mask or token order, and a predicate region whose body is the
//      clone of every custom region, with their results combined by
//      arith.andi.
//   4. Erase the attention op, then walk its mask tree again in the same
//      order and erase each mask op left without users. Parents come before
//      children, so erasing a parent frees its children for the same walk;
//      a mask still used elsewhere (by another attention) and everything it
//      uses survive until their last user is planned.
//
//===----------------------------------------------------------------------===//

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/MaskAnalysis.h"
#include "attn/Passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace attn {
#define GEN_PASS_DEF_ATTNPLAN
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

/// Folds the mask tree rooted at `mask` into `plan` through MaskOpInterface.
/// Fails with a located error at `user` (and a note at the mask) on a
/// structure the planner does not handle.
static LogicalResult analyseMask(Operation *user, Value mask, MaskPlan &plan) {
  if (!mask.getDefiningOp<MaskOpInterface>())
    return user->emitOpError() << "attn-plan: mask is not produced by an "
                                  "attn.mask.* op";
  return visitMaskTree(mask, [&](MaskOpInterface maskOp) {
    auto emitError = [&]() {
      InFlightDiagnostic diag = user->emitOpError() << "attn-plan: ";
      diag.attachNote(maskOp->getLoc()) << "mask defined here";
      return diag;
    };
    return maskOp.contributeToPlan(plan, emitError);
  });
}

/// Builds the (b, h, i, j) predicate region of `planOp`: the conjunction of
/// the cloned bodies of `predicates` (an (i, j) predicate ignores b and h).
static void buildPredicateRegion(OpBuilder &builder, PlanOp planOp,
                                 ArrayRef<MaskCustomOp> predicates) {
  if (predicates.empty())
    return;
  Location loc = planOp.getLoc();
  Type indexType = builder.getIndexType();
  Block *block = builder.createBlock(&planOp.getPredicate(), {},
                                     SmallVector<Type>(4, indexType),
                                     SmallVector<Location>(4, loc));
  Value allowed;
  for (MaskCustomOp custom : predicates) {
    // A custom predicate over (i, j) takes the last two of (b, h, i, j).
    Block &body = custom.getPredicate().front();
    IRMapping mapping;
    for (auto [argument, target] :
         llvm::zip(body.getArguments(),
                   block->getArguments().take_back(body.getNumArguments())))
      mapping.map(argument, target);
    for (Operation &op : body.without_terminator())
      builder.clone(op, mapping);
    // The yielded value may be defined above the region (a constant that
    // folding hoisted out): then it is used as is.
    Value result =
        mapping.lookupOrDefault(cast<YieldOp>(body.getTerminator()).getValue());
    allowed = allowed ? arith::AndIOp::create(builder, loc, allowed, result)
                            .getResult()
                      : result;
  }
  YieldOp::create(builder, loc, allowed);
}

/// Erases the mask ops of the tree rooted at `mask` that are left without
/// users. The walk visits each op once with users before the masks they
/// use, so a chain of masks dies in one pass and a mask used twice by the
/// same parent is erased exactly once.
static void eraseDeadMaskTree(Value mask) {
  (void)visitMaskTree(mask, [](MaskOpInterface maskOp) {
    if (maskOp->use_empty())
      maskOp->erase();
    return success();
  });
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
    if (plan.blockMask && plan.order) {
      InFlightDiagnostic diag =
          op.emitOpError() << "attn-plan: a block mask and a token order "
                              "(hash buckets, keep flags) together are not "
                              "supported yet";
      diag.attachNote(plan.order->source->getLoc()) << "token order from here";
      return diag;
    }
    if (plan.prune && plan.order) {
      InFlightDiagnostic diag =
          op.emitOpError() << "attn-plan: an N:M prune over hash buckets or "
                              "dropped tokens is not supported yet (its "
                              "groups are of original key positions, the "
                              "tiles of sorted ones)";
      diag.attachNote(plan.order->source->getLoc()) << "token order from here";
      return diag;
    }
    // A block mask or a token order asks for per-q-tile lists; otherwise
    // the band decides between a range and every tile.
    ScheduleKind schedule = plan.blockMask || plan.order ? ScheduleKind::List
                            : plan.hasBand()             ? ScheduleKind::Range
                                                         : ScheduleKind::Dense;
    auto planOp = PlanOp::create(
        builder, op.getLoc(), op.getQuery(), op.getKey(), op.getValue(),
        op.getOutput(), op.getLse(),
        plan.blockMask ? plan.blockMask->mask : Value(),
        plan.order ? plan.order->queryKeys : Value(),
        plan.order ? plan.order->keyKeys : Value(),
        builder.getF32FloatAttr(static_cast<float>(op.getEffectiveScale())),
        ScheduleKindAttr::get(builder.getContext(), schedule),
        plan.bandLower ? builder.getI64IntegerAttr(*plan.bandLower)
                       : IntegerAttr(),
        plan.bandUpper ? builder.getI64IntegerAttr(*plan.bandUpper)
                       : IntegerAttr(),
        plan.blockMask ? builder.getI64IntegerAttr(plan.blockMask->size)
                       : IntegerAttr(),
        plan.order ? builder.getI64IntegerAttr(plan.order->classes)
                   : IntegerAttr(),
        plan.order && plan.order->keepFlags ? builder.getUnitAttr()
                                            : UnitAttr(),
        plan.prune ? builder.getI64IntegerAttr(plan.prune->keep)
                   : IntegerAttr(),
        plan.prune ? builder.getI64IntegerAttr(plan.prune->group)
                   : IntegerAttr());
    buildPredicateRegion(builder, planOp, plan.predicates);
    op.erase();
    if (mask)
      eraseDeadMaskTree(mask);
    return success();
  }
};
} // namespace
