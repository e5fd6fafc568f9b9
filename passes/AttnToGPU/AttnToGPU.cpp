//===- AttnToGPU.cpp - L2 q-tile nests to gpu.launch kernels ----*- C++ -*-===//
//
// attn-to-gpu turns each scf.forall (batch, head, q-tile) written by
// attn-tile into one gpu.launch:
//
//   1. Launch: grid = (q-tiles, query heads, batch), block = `threads`
//      threads; block x runs q-tile (q-tiles - 1 - x), longest first under
//      a causal band. The launch names its kernel (module and function), and
//      its facts (grid as expressions of argument extents, block, shared
//      memory, argument roles) go into the function's `attn.bundle`
//      attribute (LaunchFacts.h), which the bundle writer reads.
//   2. The fused step (attn.fused.forward) of the nest is lowered as a unit
//      by the chip's emitter (sm_80 and sm_90a: Sm80/FusedForward.h). A
//      step the emitter declines is decomposed into attn.tile.* ops
//      (FusedForwardOp::decompose) and lowered per op, with a remark that
//      says why: never silently.
//   3. Per-op lowering (PerOpLowering.h) for the tile ops that remain
//      (declined steps, hand-written L2): every memref.alloca tile of the
//      forall body becomes a buffer in the block's dynamic shared memory
//      (SharedMemory.h).
//   4. Preprocessing ops become launches of their own before the nests,
//      in program order: SPION's derivation (FloodFill.h), LSH bucket ids
//      and token orders and their lists (TokenOrder.h), block-sparse tile
//      lists (TileLists.h).
//   5. Self-contained body: the extents, constants and index arithmetic the
//      body uses from outside are cloned into it, so that after outlining
//      the kernel's parameters are exactly the memrefs (the bundle ABI).
//
// The place for a Hopper emitter (TMA, wgmma, warp specialisation) is
// Sm90/, chosen in chooseEmitter by TargetInfo::hasWarpgroupMma.
//
//===----------------------------------------------------------------------===//

#include "DeviceMath.h"
#include "FloodFill.h"
#include "LaunchFacts.h"
#include "LinearScan.h"
#include "PerOpLowering.h"
#include "SharedMemory.h"
#include "Sm80/FusedForward.h"
#include "Sm80/FusedLinear.h"
#include "TileLists.h"
#include "TokenOrder.h"

#include "attn/Dialect/Attn/AttnOps.h"
#include "attn/Dialect/Attn/InputChecks.h"
#include "attn/Passes/Passes.h"
#include "attn/Target/TargetInfo.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace attn {
#define GEN_PASS_DEF_ATTNTOGPU
#include "attn/Passes/Passes.h.inc"
} // namespace attn

using namespace mlir;
using namespace attn;

/// Whether `region` holds attn.tile ops or fused steps (the forall nests
/// attn-tile wrote, or hand-written tile loops).
static bool containsAttnTileLevelOps(Region &region) {
  return region
      .walk([](Operation *op) {
        return isa<FusedForwardOp, FusedLinearOp>(op) ||
                       op->getName().getStringRef().starts_with("attn.tile.")
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// Clones into the launch body every side-effect-free op whose result the
/// body uses from outside (recursively through its operands), so that
/// only memrefs cross the kernel boundary.
static void rematerializeCapturedScalars(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  OpBuilder b = OpBuilder::atBlockBegin(&body.front());
  while (true) {
    SetVector<Value> captured;
    getUsedValuesDefinedAbove(body, captured);
    // Clone in program order, so that a clone never uses a value cloned
    // after it.
    SmallVector<Operation *> defs;
    for (Value value : captured) {
      Operation *def = value.getDefiningOp();
      if (isa<MemRefType>(value.getType()) || !def ||
          !isMemoryEffectFree(def) || llvm::is_contained(defs, def))
        continue;
      defs.push_back(def);
    }
    llvm::stable_sort(defs, [](Operation *a, Operation *b) {
      return a->getBlock() == b->getBlock() && a->isBeforeInBlock(b);
    });
    bool changed = false;
    for (Operation *def : defs) {
      Operation *clone = b.clone(*def);
      for (auto [original, copy] :
           llvm::zip(def->getResults(), clone->getResults()))
        replaceAllUsesInRegionWith(original, copy, body);
      changed = true;
    }
    if (!changed)
      return;
    b.setInsertionPointToStart(&body.front());
  }
}

/// Makes the kernel's parameters follow the roles' order (q, k, v, o, lse,
/// then anything else the body captures): outlining takes the memrefs a
/// launch body uses in the order it first meets them, so a side-effect-free
/// read of each one's extent at the top of the body fixes that order. The
/// reads have no users and are gone after the first canonicalization.
static void anchorParameterOrder(gpu::LaunchOp launch,
                                 const LaunchFacts::StepOperands &roles) {
  OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
  Location loc = launch.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  for (Value memref :
       {roles.query, roles.key, roles.value, roles.output, roles.lse})
    if (memref)
      memref::DimOp::create(b, loc, memref, zero);
}

namespace {
struct AttnToGPUPass : public attn::impl::AttnToGPUBase<AttnToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    std::optional<TargetInfo> found = TargetInfo::lookup(chip);
    if (!found) {
      getOperation()->emitError()
          << "attn-to-gpu: unknown chip '" << chip
          << "' (supported: " << TargetInfo::supportedChips() << ")";
      return signalPassFailure();
    }
    target = *found;
    if (threads < 32 || threads > 1024 || threads % 32 != 0) {
      getOperation()->emitError()
          << "attn-to-gpu: block-threads = " << threads.getValue()
          << " must be a multiple of 32 between 32 and 1024";
      return signalPassFailure();
    }
    if (failed(checkLowerable()))
      return signalPassFailure();
    SmallVector<scf::ForallOp> nests;
    getOperation()->walk([&](scf::ForallOp op) {
      if (op.getRank() == 3 && containsAttnTileLevelOps(op.getRegion()))
        nests.push_back(op);
    });
    // One LaunchFacts per function, in the order functions are met.
    llvm::MapVector<Operation *, std::unique_ptr<LaunchFacts>> facts;
    auto factsOf = [&](Operation *op) -> LaunchFacts * {
      auto func = op->getParentOfType<func::FuncOp>();
      if (!func) {
        op->emitOpError() << "attn-to-gpu: must be inside a func.func, "
                             "whose arguments a bundle describes";
        return nullptr;
      }
      std::unique_ptr<LaunchFacts> &entry = facts[func];
      if (!entry)
        entry = std::make_unique<LaunchFacts>(func, chip);
      return entry.get();
    };
    // The steps' roles first, so that the launches before them (tile
    // lists) can state their extents in the steps' symbols.
    for (scf::ForallOp nest : nests) {
      LaunchFacts *functionFacts = factsOf(nest);
      if (!functionFacts)
        return signalPassFailure();
      WalkResult described = nest.walk([&](FusedForwardOp step) {
        return failed(functionFacts->addStep(LaunchFacts::StepOperands(step)))
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      });
      if (described.wasInterrupted())
        return signalPassFailure();
      // Linear attention: the step that writes the output names the
      // arguments (the other phase reads a subset), its scan the initial
      // state.
      WalkResult linearDescribed = nest.walk([&](FusedLinearOp step) {
        if (!step.getOutput())
          return WalkResult::advance();
        Value initial;
        if (Value states = step.getStateIn())
          for (Operation *user : states.getUsers())
            if (auto scan = dyn_cast<LinearScanOp>(user))
              initial = scan.getInitial();
        return failed(functionFacts->addLinearStep(
                   step.getLoc(), step.getQuery(), step.getKey(),
                   step.getValue(), step.getOutput(), step.getDecay(), initial,
                   step.getFinalState()))
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      });
      if (linearDescribed.wasInterrupted())
        return signalPassFailure();
    }
    // Launches in program order: preprocessing (SPION's derivation, LSH
    // bucket ids, token orders, tile lists) comes before the nests that
    // read it.
    SmallVector<Operation *> preprocessing;
    getOperation()->walk([&](Operation *op) {
      if (isa<FloodFillOp, LshOp, TokenOrderOp, GatherRowsOp,
              OrderedTileListsOp, TileListsOp>(op))
        preprocessing.push_back(op);
    });
    for (Operation *op : preprocessing) {
      LaunchFacts *functionFacts = factsOf(op);
      if (!functionFacts)
        return signalPassFailure();
      FailureOr<SmallVector<gpu::LaunchOp, 2>> launches =
          llvm::TypeSwitch<Operation *,
                           FailureOr<SmallVector<gpu::LaunchOp, 2>>>(op)
              .Case([&](FloodFillOp fill) {
                return convertFloodFill(fill, *functionFacts);
              })
              .Case([&](OrderedTileListsOp lists) {
                return convertOrderedTileLists(lists, *functionFacts);
              })
              .Default([&](Operation *single)
                           -> FailureOr<SmallVector<gpu::LaunchOp, 2>> {
                FailureOr<gpu::LaunchOp> launch =
                    llvm::TypeSwitch<Operation *, FailureOr<gpu::LaunchOp>>(
                        single)
                        .Case([&](LshOp lsh) {
                          return convertLsh(lsh, *functionFacts);
                        })
                        .Case([&](TokenOrderOp order) {
                          return convertTokenOrder(order, *functionFacts);
                        })
                        .Case([&](GatherRowsOp gather) {
                          return convertGatherRows(gather, *functionFacts);
                        })
                        .Case([&](TileListsOp lists) {
                          return convertTileLists(lists, *functionFacts);
                        });
                if (failed(launch))
                  return failure();
                return SmallVector<gpu::LaunchOp, 2>{*launch};
              });
      if (failed(launches))
        return signalPassFailure();
      for (gpu::LaunchOp launch : *launches)
        rematerializeCapturedScalars(launch);
    }
    // The nests, and linear attention's scans between its two phases, in
    // program order (the order of the launches).
    SmallVector<Operation *> stepsInOrder;
    getOperation()->walk([&](Operation *op) {
      if (isa<LinearScanOp>(op) ||
          llvm::is_contained(nests, dyn_cast<scf::ForallOp>(op)))
        stepsInOrder.push_back(op);
    });
    for (Operation *op : stepsInOrder) {
      LaunchFacts *functionFacts = factsOf(op);
      if (!functionFacts)
        return signalPassFailure();
      if (auto scan = dyn_cast<LinearScanOp>(op)) {
        FailureOr<gpu::LaunchOp> launch = convertScan(scan, *functionFacts);
        if (failed(launch))
          return signalPassFailure();
        rematerializeCapturedScalars(*launch);
        continue;
      }
      if (failed(convertNest(cast<scf::ForallOp>(op), *functionFacts)))
        return signalPassFailure();
    }
    // Math ops in kernels without libdevice (DeviceMath.h).
    WalkResult mathLowered = getOperation()->walk([](gpu::LaunchOp launch) {
      return failed(lowerDeviceMath(launch)) ? WalkResult::interrupt()
                                             : WalkResult::advance();
    });
    if (mathLowered.wasInterrupted())
      return signalPassFailure();
    for (auto &[func, functionFacts] : facts)
      if (failed(convertScratch(cast<func::FuncOp>(func), *functionFacts)) ||
          failed(functionFacts->write()))
        return signalPassFailure();
  }

  /// Diagnoses attn ops this pass cannot lower: anything but the fused
  /// steps, tile lists and tile ops (and what their regions hold), e.g. an
  /// op whose GPU lowering does not exist yet, or L0/L1 ops that attn-plan
  /// and attn-tile have not run on.
  LogicalResult checkLowerable() {
    WalkResult result =
        getOperation()->walk<WalkOrder::PreOrder>([&](Operation *op) {
          if (!isa<AttnDialect>(op->getDialect()))
            return WalkResult::advance();
          // Mask values left without users are inert.
          if (isa<FusedForwardOp, FusedLinearOp, LinearScanOp, TileListsOp,
                  FloodFillOp, LshOp, TokenOrderOp, GatherRowsOp,
                  OrderedTileListsOp, MaskOpInterface>(op) ||
              op->getName().getStringRef().starts_with("attn.tile."))
            return WalkResult::skip();
          if (isa<AttentionOp, PlanOp, LinearAttentionOp>(op))
            op->emitOpError() << "attn-to-gpu: run attn-plan and attn-tile "
                                 "first (attn-lower-to-ptx does)";
          else
            op->emitOpError() << "attn-to-gpu: '" << op->getName()
                              << "' has no GPU lowering yet";
          return WalkResult::interrupt();
        });
    return failure(result.wasInterrupted());
  }

  /// Turns each function-level memref.alloc marked as scratch
  /// (kScratchAttrName) into a new argument of the function, recorded as a
  /// scratch buffer of the bundle; its deallocs go. Kernels can take only
  /// function arguments; the runtime allocates these.
  LogicalResult convertScratch(func::FuncOp func, LaunchFacts &functionFacts) {
    SmallVector<memref::AllocOp> allocs;
    for (auto alloc : func.getBody().front().getOps<memref::AllocOp>())
      if (alloc->hasAttr(kScratchAttrName))
        allocs.push_back(alloc);
    for (memref::AllocOp alloc : allocs) {
      auto name = alloc->getAttrOfType<StringAttr>(kScratchAttrName);
      if (!name)
        return alloc.emitOpError() << "attn-to-gpu: " << kScratchAttrName
                                   << " must name the buffer (a string)";
      if (failed(functionFacts.addScratch(alloc.getLoc(), name.getValue(),
                                          alloc.getType(),
                                          alloc.getDynamicSizes())))
        return failure();
      unsigned index = func.getNumArguments();
      if (failed(func.insertArgument(index, alloc.getType(), DictionaryAttr(),
                                     alloc.getLoc())))
        return failure();
      for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
        if (isa<memref::DeallocOp>(user))
          user->erase();
      alloc.replaceAllUsesWith(func.getArgument(index));
      alloc.erase();
    }
    return success();
  }

  /// The sm_80 emitter's plan for `step`, or std::nullopt after a remark
  /// saying why the step runs per op instead. sm_90a has no emitter of its
  /// own yet and uses the sm_80 one (its code runs on Hopper).
  std::optional<Sm80FusedForwardPlan> chooseEmitter(FusedForwardOp step) {
    std::string whyNot;
    if (!mma)
      whyNot = "tensor cores are off (mma=false)";
    else if (FailureOr<Sm80FusedForwardPlan> plan =
                 planSm80FusedForward(step, target, threads, whyNot);
             succeeded(plan)) {
      if (!plan->remark.empty())
        step.emitRemark() << plan->remark;
      return std::move(*plan);
    }
    step.emitRemark() << "attn-to-gpu: the fused step runs as per-op loops "
                         "on "
                      << chip << " because " << whyNot;
    return std::nullopt;
  }

  /// Checks the tile allocas of a nest lowered per op and adds them to
  /// `layout` as shared-memory buffers, in program order.
  LogicalResult planPerOpTiles(scf::ForallOp nest,
                               SmallVectorImpl<memref::AllocaOp> &allocas,
                               SharedMemoryLayout &layout) {
    for (Operation &op : nest.getBody()->without_terminator()) {
      auto alloca = dyn_cast<memref::AllocaOp>(op);
      if (!alloca)
        continue;
      MemRefType type = alloca.getType();
      Type element = type.getElementType();
      if (!element.isF16() && !element.isBF16() && !element.isF32())
        return nest.emitOpError()
               << "attn-to-gpu: unexpected tile type " << type;
      allocas.push_back(alloca);
      layout.add(paddedType(type));
    }
    // Q, K and V tiles carry the input element type: f32 inputs are a CPU
    // (test) form only.
    WalkResult badInput = nest.walk([&](TileLoadOp load) {
      Type element =
          cast<MemRefType>(load.getTile().getType()).getElementType();
      if (element.isF32() &&
          cast<MemRefType>(load.getSource().getType()).getRank() == 4) {
        load.emitOpError() << "attn-to-gpu: element type f32 is not "
                              "supported on "
                           << chip << " (use f16 or bf16)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(badInput.wasInterrupted());
  }

  /// Lowers `scan` (LinearScan.h). With decay rates, the rates are checked
  /// there: a scratch count of invalid rates (a new function-level
  /// allocation, an input check of the bundle naming the decay argument)
  /// that the steps reading the scanned states test before they write.
  FailureOr<gpu::LaunchOp> convertScan(LinearScanOp scan, LaunchFacts &facts) {
    Value invalidCount;
    if (Value decay = scan.getDecay()) {
      auto func = scan->getParentOfType<func::FuncOp>();
      OpBuilder atEntry = OpBuilder::atBlockBegin(&func.getBody().front());
      std::string name = "linear_invalid_decay";
      if (linearChecks > 0)
        name += "_" + std::to_string(linearChecks);
      ++linearChecks;
      auto count = memref::AllocOp::create(
          atEntry, scan.getLoc(), MemRefType::get({1}, atEntry.getI32Type()));
      count->setAttr(kScratchAttrName, atEntry.getStringAttr(name));
      if (failed(facts.addInputCheck(scan.getLoc(), name, decay,
                                     "negative, NaN or infinite decay rates")))
        return failure();
      invalidCount = count;
      invalidDecayCounts[scan.getStates()] = invalidCount;
    }
    return convertLinearScan(scan, facts, invalidCount);
  }

  /// Lowers a nest (batch, head, segment) of attn.fused.linear to one
  /// launch, grid (segments · slices, heads, batch): block x runs segment
  /// x / slices for value columns slice x % slices (Sm80/FusedLinear.h).
  /// A step that reads scanned states runs only when the scan found every
  /// decay rate valid.
  LogicalResult convertLinearNest(scf::ForallOp nest, FusedLinearOp step,
                                  LaunchFacts &facts) {
    std::string whyNot;
    if (!mma)
      whyNot = "tensor cores are off (mma=false)";
    FailureOr<Sm80FusedLinearPlan> plan =
        mma ? planSm80FusedLinear(step, target, whyNot)
            : FailureOr<Sm80FusedLinearPlan>(failure());
    if (failed(plan))
      return step.emitOpError()
             << "attn-to-gpu: linear attention has no GPU lowering on " << chip
             << " here because " << whyNot;
    for (Operation &op : nest.getBody()->without_terminator())
      if (!isa<FusedLinearOp>(op) && !isMemoryEffectFree(&op))
        return op.emitOpError()
               << "attn-to-gpu: a linear attention nest holds only index "
                  "arithmetic and its one attn.fused.linear";
    ImplicitLocOpBuilder b(nest.getLoc(), nest);
    SmallVector<Value> upper = getValueOrCreateConstantIndexOp(
        b, nest.getLoc(), nest.getMixedUpperBound());
    Value slices = arith::ConstantIndexOp::create(b, plan->slices);
    Value gridX = plan->slices == 1
                      ? upper[2]
                      : arith::MulIOp::create(b, upper[2], slices).getResult();
    FailureOr<gpu::LaunchOp> created =
        facts.createLaunch(b, {gridX, upper[1], upper[0]}, plan->threads,
                           plan->sharedMemory.getBytes());
    if (failed(created))
      return failure();
    gpu::LaunchOp launch = *created;
    b.setInsertionPointToStart(&launch.getBody().front());
    KernelBuilder kernel(b, launch.getThreadIds().x, launch.getBlockSize().x);
    gpu::KernelDim3 blockIds = launch.getBlockIds();
    IRMapping mapping;
    mapping.map(nest.getInductionVar(0), blockIds.z);
    mapping.map(nest.getInductionVar(1), blockIds.y);
    mapping.map(nest.getInductionVar(2),
                arith::DivUIOp::create(b, blockIds.x, slices));
    Value slice = arith::RemUIOp::create(b, blockIds.x, slices);
    SmallVector<Value> buffers = plan->sharedMemory.materialize(b);
    for (Operation &op : nest.getBody()->without_terminator()) {
      if (&op != step.getOperation()) {
        b.clone(op, mapping);
        continue;
      }
      OpBuilder::InsertionGuard guard(b);
            if (Value states = step.getStateIn();
          states && invalidDecayCounts.count(states))
        enterIfCountsZero(b, step.getLoc(), invalidDecayCounts[states]);
      emitSm80FusedLinear(kernel, step, mapping, *plan, buffers, slice);
    }
    gpu::TerminatorOp::create(b);
    nest.erase();
    rematerializeCapturedScalars(launch);
    return success();
  }

  LogicalResult convertNest(scf::ForallOp nest, LaunchFacts &facts) {
    for (Operation &op : nest.getBody()->without_terminator())
      if (auto linear = dyn_cast<FusedLinearOp>(op))
        return convertLinearNest(nest, linear, facts);
    // The fused step: its roles for the bundle, then its emitter or its
    // decomposition.
    FusedForwardOp step;
    for (Operation &op : nest.getBody()->without_terminator())
      if (auto found = dyn_cast<FusedForwardOp>(op)) {
        if (step)
          return nest.emitOpError() << "attn-to-gpu: a q-tile nest holds "
                                       "one fused step, found several";
        step = found;
      }
    std::optional<Sm80FusedForwardPlan> plan;
    std::optional<LaunchFacts::StepOperands> roles;
    if (step) {
      // f32 inputs are a CPU (test) form only.
      if (cast<MemRefType>(step.getQuery().getType()).getElementType().isF32())
        return step.emitOpError() << "attn-to-gpu: element type f32 is not "
                                     "supported on "
                                  << chip << " (use f16 or bf16)";
      roles.emplace(step);
      plan = chooseEmitter(step);
      if (!plan) {
        OpBuilder builder(step);
        step.decompose(builder);
        step = {};
      }
    }
    SmallVector<memref::AllocaOp> allocas;
    SharedMemoryLayout perOpLayout;
    if (failed(planPerOpTiles(nest, allocas, perOpLayout)))
      return failure();
    const SharedMemoryLayout &layout =
        plan ? plan->sharedMemory : perOpLayout;
    if (layout.getBytes() > target.maxSharedMemoryBytes)
      return nest.emitOpError()
             << "attn-to-gpu: tiles need " << layout.getBytes()
             << " bytes of shared memory, more than the "
             << target.maxSharedMemoryBytes << " bytes a block has on "
             << chip
             << "; use smaller block-q/block-k (e.g. 32) or a smaller head "
                "dimension";

    ImplicitLocOpBuilder b(nest.getLoc(), nest);
    SmallVector<Value> upper = getValueOrCreateConstantIndexOp(
        b, nest.getLoc(), nest.getMixedUpperBound());
    // forall (batch, head, q-tile) -> grid (x = q-tile, y = head, z = batch).
    FailureOr<gpu::LaunchOp> created = facts.createLaunch(
        b, {upper[2], upper[1], upper[0]}, threads, layout.getBytes());
    if (failed(created))
      return failure();
    gpu::LaunchOp launch = *created;

    Block &body = launch.getBody().front();
    b.setInsertionPointToStart(&body);
    KernelBuilder kernel(b, launch.getThreadIds().x, launch.getBlockSize().x);
    IRMapping mapping;
    gpu::KernelDim3 blockIds = launch.getBlockIds();
    mapping.map(nest.getInductionVar(0), blockIds.z);
    mapping.map(nest.getInductionVar(1), blockIds.y);
    // q-tiles longest-first: block x runs q-tile (tiles - 1 - x). Under a
    // causal band the last q-tiles have the most kv tiles; starting them
    // first leaves the short ones for the last wave.
    mapping.map(nest.getInductionVar(2),
                arith::SubIOp::create(
                    b,
                    arith::SubIOp::create(b, launch.getGridSize().x,
                                          kernel.index(1)),
                    blockIds.x));
    SmallVector<Value> buffers = layout.materialize(b);
    if (!plan)
      for (auto [alloca, buffer] : llvm::zip(allocas, buffers)) {
        MemRefType tileType = alloca.getType();
        mapping.map(alloca.getResult(),
                    tileType.getRank() == 2
                        ? tileView(b, buffer, tileType, Value())
                        : buffer);
      }
    for (Operation &op : nest.getBody()->without_terminator()) {
      if (isa<memref::AllocaOp>(op))
        continue;
      if (plan && &op == step.getOperation()) {
        // With invalid-input counts the whole step is under one uniform
        // branch: a block whose inputs are bad writes nothing.
        OpBuilder::InsertionGuard guard(b);
        step.enterIfInputsValid(b, step.getLoc(), mapping);
        emitSm80FusedForward(kernel, step, mapping, *plan, buffers, threads);
        continue;
      }
      b.clone(op, mapping);
    }
    gpu::TerminatorOp::create(b);
    nest.erase();

    rematerializeCapturedScalars(launch);
    if (roles)
      anchorParameterOrder(launch, *roles);

    SmallVector<Operation *> tileOps;
    launch.getBody().walk([&](Operation *op) {
      if (op->getName().getStringRef().starts_with("attn.tile."))
        tileOps.push_back(op);
    });
    for (Operation *op : tileOps)
      lowerTileOpPerOp(kernel, op, mma);
    return success();
  }

  TargetInfo target = TargetInfo::all().front();
  /// The scratch count of invalid decay rates of each scanned state
  /// buffer (convertScan), and how many linear attentions have one.
  llvm::DenseMap<Value, Value> invalidDecayCounts;
  unsigned linearChecks = 0;
};
} // namespace
