//===- LaunchFacts.h - what a bundle needs to know of each launch -*- C++ -*-//
//
// attn-to-gpu records, on every function whose attention it lowers, the
// facts a bundle's manifest states and nothing else can recover once the
// kernels are compiled, as one dictionary attribute `attn.bundle`:
//
//   attn.bundle = {
//     target = "sm_80", module = "f_kernel",    // the one gpu.module
//     arguments = [{name = "q", dtype = "bf16",
//                   shape = ["B", "Hq", "Nq", 128]}, ...],   // every argument
//     constraints = ["Hq % Hk == 0"],
//     scratch = [{name = "tile_counts", dtype = "i32",
//                 shape = [1, 1, "ceildiv(Nq, 128)", 2]}, ...],
//     launches = [{kernel = "f_kernel", grid = ["ceildiv(Nq, 128)", "Hq",
//                  "B"], block = [128, 1, 1], shared_bytes = 69632}, ...],
//     input_checks = [{scratch = "query_invalid_ids", argument = "qb",
//                      message = "bucket ids outside [0, 8)"}]}  // optional
//
// The function attribute survives the whole lowering to PTX (outlining and
// the host's conversion to the LLVM dialect drop attributes of gpu.launch
// and gpu.launch_func). The bundle writer (lib/Target) reads it, the PTX of
// the function's one gpu.binary, and the kernel parameter order of each
// gpu.launch_func.
//
// Argument names and shape symbols come from roles: the operands of the
// n-th fused step of a function are q, k, v, o, lse with shapes [B, Hq, Nq,
// D], [B, Hk, Nk, D], [B, Hk, Nk, Dv], [B, Hq, Nq, Dv], [B, Hq, Nq] (names
// and symbols suffixed _n for n > 0). Any other argument (e.g. a memref a
// predicate reads) is named by its `attn.name` argument attribute or argN,
// its dynamic extents by its `attn.shape` argument attribute (an array of
// symbols and integers) or argN_dK; the block mask of a block-sparse
// attention gets its expected extents as expressions (describeBlockMask).
// Scratch buffers (memory the kernels share, e.g. a block-sparse
// schedule's tile lists) have expression extents and follow the
// arguments in the kernels' parameter lists.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_PASSES_ATTNTOGPU_LAUNCHFACTS_H
#define ATTN_PASSES_ATTNTOGPU_LAUNCHFACTS_H

#include "attn/Dialect/Attn/AttnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <string>

namespace attn {

/// The bundle facts of one function, collected as its launches are built.
class LaunchFacts {
public:
  /// Built before any op of `func` is lowered: it notes which arguments
  /// the function writes (writtenArguments).
  LaunchFacts(mlir::func::FuncOp func, llvm::StringRef chip)
      : func(func), chip(chip.str()), arguments(func.getNumArguments()),
        written(writtenArguments(func)) {}

  /// The arguments some op of `func` declares a write to (its memory
  /// effects), followed through view-like ops: the bundle marks them
  /// `writes`, and the runtime refuses them overlapping another argument.
  static llvm::SmallVector<bool> writtenArguments(mlir::func::FuncOp func);

  /// The operands of a fused step that the bundle describes: with
  /// `sorted_inputs`, Q, K and V are the caller's tensors that
  /// attn.gather_rows copied into the step's operands.
  struct StepOperands {
    mlir::Location loc;
    mlir::Value query, key, value, output, lse;
    explicit StepOperands(FusedForwardOp step)
        : loc(step.getLoc()), query(beforeGather(step.getQuery())),
          key(beforeGather(step.getKey())),
          value(beforeGather(step.getValue())), output(step.getOutput()),
          lse(step.getLse()) {}
    /// The source of the attn.gather_rows that writes `rows`, or `rows`.
    static mlir::Value beforeGather(mlir::Value rows);
  };
  /// Describes the operands of the function's next fused step.
  mlir::LogicalResult addStep(const StepOperands &step);

  /// Describes the arguments of the function's next linear attention (the
  /// attn.fused.linear that writes its output; `initialState` from its
  /// attn.linear_scan): q, k [B, H, N, D], v, o [B, H, N, E], decay [H],
  /// initial_state and final_state [B, H, D, E] (null ones skipped).
  mlir::LogicalResult addLinearStep(mlir::Location loc, mlir::Value query,
                                    mlir::Value key, mlir::Value value,
                                    mlir::Value output, mlir::Value decay,
                                    mlir::Value initialState,
                                    mlir::Value finalState);

  /// The kernel name of the function's next launch: the function's name
  /// made a PTX identifier, "_kernel", and "_N" after the first.
  std::string nextKernelName() const;
  /// The name of the one gpu.module that holds the function's kernels.
  std::string moduleName() const;

  /// Creates, at the insertion point of `b`, the gpu.launch of the
  /// function's next kernel with grid (x, y, z) = `grid`, `threads`
  /// threads and `sharedBytes` of dynamic shared memory, names it (module
  /// and function attributes) and records it (addLaunch).
  mlir::FailureOr<mlir::gpu::LaunchOp>
  createLaunch(mlir::ImplicitLocOpBuilder &b, llvm::ArrayRef<mlir::Value> grid,
               int64_t threads, int64_t sharedBytes);

  /// Records a launch of kernel `kernel` with grid (x, y, z) computed by
  /// `grid` (values of the function, expressions of argument extents),
  /// `threads` threads and `sharedBytes` of dynamic shared memory. Fails
  /// with an error at `loc` when a grid extent is not such an expression or
  /// exceeds the chip's limits.
  mlir::LogicalResult addLaunch(mlir::Location loc, llvm::StringRef kernel,
                                llvm::ArrayRef<mlir::Value> grid,
                                int64_t threads, int64_t sharedBytes);

  /// Describes the block mask of `lists` (a function argument without an
  /// `attn.shape`) by its expected extents: [ceildiv(Nq, s), ceildiv(Nk,
  /// s)], or [B, Hq, ...] per head, so that the runtime checks them.
  mlir::LogicalResult describeBlockMask(TileListsOp lists);

  /// Describes `value`, a function argument that no role named and that
  /// has no `attn.shape`, by the expressions of `sizes` (function values,
  /// one per extent; static extents stay), named by its `attn.name` or
  /// `defaultName`: so that the runtime checks, e.g., that per-token keys
  /// are [B, Hq, Nq]. Fails at `loc` when `value` is not an argument.
  mlir::LogicalResult describeLike(mlir::Location loc, mlir::Value value,
                                   mlir::ValueRange sizes,
                                   llvm::StringRef defaultName);

  /// The name a described function argument has in the bundle ("" when
  /// `value` is no argument or not described yet).
  std::string nameOf(mlir::Value value) const;

  /// Describes the score map and block mask of `derivation` (function
  /// arguments without an `attn.shape`): the map square, [S, S] with S a
  /// multiple of the block size (a constraint), the mask [ceildiv(S, bs),
  /// ceildiv(S, bs)].
  mlir::LogicalResult describeFloodFill(FloodFillOp derivation);

  /// Records a scratch buffer `name` of type `type` whose dynamic extents
  /// are `sizes` (values of the function, expressions of argument
  /// extents): memory the runtime allocates for the launches, passed to
  /// the kernels after the function's arguments, in the order recorded.
  mlir::LogicalResult addScratch(mlir::Location loc, llvm::StringRef name,
                                 mlir::MemRefType type, mlir::ValueRange sizes);

  /// Records a check of the data of argument `input` (described already):
  /// the kernels count its invalid values (`message`, e.g. "bucket ids
  /// outside [0, 8)") in scratch buffer `scratch` (one i32), which the
  /// runtime zeroes before the launches and reads after them, reporting a
  /// non-zero count as an error naming the argument. Fails at `loc` when
  /// `input` is no described argument.
  mlir::LogicalResult addInputCheck(mlir::Location loc, llvm::StringRef scratch,
                                    mlir::Value input, llvm::StringRef message);

  /// Describes the arguments no step named and writes `attn.bundle` on the
  /// function.
  mlir::LogicalResult write();

private:
  struct Argument {
    std::string name;
    llvm::SmallVector<mlir::Attribute> shape; // StringAttr or IntegerAttr
  };
  mlir::FailureOr<std::string> expressionOf(mlir::Location loc,
                                            mlir::Value value);
  /// Describes argument `index`, if no role has, by its `attn.name` and
  /// `attn.shape` attributes or as argN with extents argN_dK.
  mlir::LogicalResult describeGeneric(unsigned index);
  mlir::LogicalResult describe(mlir::Location loc, mlir::Value operand,
                               llvm::StringRef role,
                               llvm::ArrayRef<llvm::StringRef> symbols,
                               llvm::StringRef suffix);

  mutable mlir::func::FuncOp func;
  std::string chip;
  llvm::SmallVector<std::optional<Argument>> arguments;
  /// written[i]: argument i is written (writtenArguments).
  llvm::SmallVector<bool> written;
  llvm::SmallVector<std::string> constraints;
  llvm::SmallVector<mlir::Attribute> launches;
  /// Scratch buffers, as manifest dictionaries (name, dtype, shape).
  llvm::SmallVector<mlir::Attribute> scratch;
  /// Input checks, as manifest dictionaries (scratch, argument, message).
  llvm::SmallVector<mlir::Attribute> inputChecks;
  unsigned steps = 0;
};

} // namespace attn

#endif // ATTN_PASSES_ATTNTOGPU_LAUNCHFACTS_H
