//===- TargetInfo.h - facts about each GPU target ---------------*- C++ -*-===//
//
// The one place for what the compiler knows of a GPU target: its name, the
// dynamic shared memory one block may use, grid limits, the PTX features
// the NVVM back end needs, and which instruction families it has. Passes
// (attn-tile, attn-to-gpu), the pipelines and the bundle writer read these;
// nothing else spells a chip's limits.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TARGET_TARGETINFO_H
#define ATTN_TARGET_TARGETINFO_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <optional>

namespace attn {

struct TargetInfo {
  /// The chip name as the NVVM target and the bundle's "target" spell it.
  llvm::StringLiteral chip;
  /// Dynamic shared memory one block may use (the opt-in maximum).
  int64_t maxSharedMemoryBytes;
  /// The PTX features the NVVM back end needs for this chip.
  llvm::StringLiteral ptxFeatures;
  /// Whether the chip has warpgroup MMA, TMA and setmaxnreg (sm_90a). No
  /// emitter uses them yet: sm_90a runs the sm_80 emitter.
  bool hasWarpgroupMma;
  /// Whether the chip has sparse tensor cores (mma.sp with 2:4 metadata):
  /// the N:M prune's P V runs on them for 2:4 and 1:2.
  bool hasSparseMma;
  /// Whether mma.sp takes the `::ordered_metadata` form (PTX ISA 8.5; ptxas
  /// advises it for sm_90 and later, where the plain form may run slower
  /// on future chips). attn's kept indices are always in order.
  bool orderedSparseMetadata;

  /// Largest grid extent in y and z (x allows 2^31 - 1).
  static constexpr int64_t kMaxGridYZ = 65535;

  /// Every supported target.
  static llvm::ArrayRef<TargetInfo> all() {
    static const TargetInfo targets[] = {
        // A100-class Ampere: 163 KiB per block (164 KiB per SM less 1 KiB
        // reserved); sm_80 code also runs on Hopper.
        {"sm_80", 163 * 1024, "+ptx80", /*hasWarpgroupMma=*/false,
         /*hasSparseMma=*/true, /*orderedSparseMetadata=*/false},
        // Hopper: 227 KiB per block. PTX ISA 8.0 is the first with sm_90a,
        // 8.5 the first with mma.sp::ordered_metadata.
        {"sm_90a", 227 * 1024, "+ptx85", /*hasWarpgroupMma=*/true,
         /*hasSparseMma=*/true, /*orderedSparseMetadata=*/true},
    };
    return targets;
  }

  /// The target named `chip`, or std::nullopt.
  static std::optional<TargetInfo> lookup(llvm::StringRef chip) {
    for (const TargetInfo &target : all())
      if (target.chip == chip)
        return target;
    return std::nullopt;
  }

  /// "sm_80, sm_90a", for diagnostics.
  static std::string supportedChips() {
    std::string names;
    for (const TargetInfo &target : all()) {
      if (!names.empty())
        names += ", ";
      names += target.chip.str();
    }
    return names;
  }

  /// The shared memory of the target that has the most: a tile that does
  /// not fit there fits nowhere.
  static int64_t largestSharedMemoryBytes() {
    int64_t largest = 0;
    for (const TargetInfo &target : all())
      largest = std::max(largest, target.maxSharedMemoryBytes);
    return largest;
  }
};

} // namespace attn

#endif // ATTN_TARGET_TARGETINFO_H
