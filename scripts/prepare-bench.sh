#!/usr/bin/env bash
# Prepares everything the GPU benchmark needs that must be built here (the
# device machine has no MLIR): one bundle per (head dim, mask) under
# bench/bundles/, each compiled by attn-compile from a generated IR file.
# The bundles are shape-generic (B, H, N dynamic), so one covers every size,
# GQA and Nq != Nk.
#
#   scripts/prepare-bench.sh            # then carry bench/bundles to the GPU
#
# ATTN_BENCH_VARIANTS adds tuning variants, timed side by side with the
# default bundles: `name=attn-compile flags` entries separated by `;`, e.g.
#   ATTN_BENCH_VARIANTS='q128k32=--block-q=128 --block-k=32' \
#     scripts/prepare-bench.sh
# builds full_d64_q128k32, ... next to full_d64 (the bench reports them as
# attn_q128k32).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ATTN_BUILD_DIR:-$root/build}
out=$root/bench/bundles
"$root/scripts/build.sh" attn-compile >&2

rm -rf "$out" && mkdir -p "$out/ir"
for d in 64 128; do
  for mask in full causal window1024; do
    name=${mask}_d${d}
    t="memref<?x?x?x${d}xbf16>"
    case $mask in
      full) mask_ops="" mask_use="" ;;
      causal) mask_ops="%m = attn.mask.causal" mask_use="mask(%m)" ;;
      window1024) mask_ops="%m = attn.mask.window 1024" mask_use="mask(%m)" ;;
    esac
    cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%q: $t, %k: $t, %v: $t, %o: $t, %lse: memref<?x?x?xf32>) {
  $mask_ops
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) $mask_use
  return
}
IR
    start=$EPOCHREALTIME
    "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
    end=$EPOCHREALTIME
    python3 -c "print(f'{\"$name\":18} compiled in {$end - $start:.3f} s')"
    # The CUDA-core variant, kept for comparison and as a cross-check.
    "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/${name}_simt" \
      --mma=false --block-q=32 --block-k=32
    IFS=';' read -ra variants <<< "${ATTN_BENCH_VARIANTS:-}"
    for variant in "${variants[@]}"; do
      [[ -z $variant ]] && continue
      read -ra flags <<< "${variant#*=}"
      "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" \
        -o "$out/${name}_${variant%%=*}" "${flags[@]}"
    done
  done
done

# Block-sparse (list schedules built by the bundle's first kernel): 128 x 128
# blocks, shared by all (batch, head), with and without causal; per (batch,
# head) with causal at D = 64. Then other block sizes (<mask><size>): blocks
# smaller than the 128 x 64 tiles (16, 32, 64: tiles are partial) and
# larger ones (256: a block spans several tiles).
while read -r mask size d; do
  name=${mask}_d${d}
  [[ $size != 128 ]] && name=${mask}${size}_d${d}
  t="memref<?x?x?x${d}xbf16>"
  blocks="memref<?x?xi1>"
  [[ $mask == blockhead ]] && blocks="memref<?x?x?x?xi1>"
  case $mask in
    block) mask_ops="%m = attn.mask.block %bm size($size) : $blocks" ;;
    *) mask_ops="%c = attn.mask.causal
  %b = attn.mask.block %bm size($size) : $blocks
  %m = attn.mask.and %c, %b" ;;
  esac
  cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%q: $t, %k: $t, %v: $t, %o: $t, %lse: memref<?x?x?xf32>,
                   %bm: $blocks) {
  $mask_ops
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) mask(%m)
  return
}
IR
  "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
  echo "$name compiled"
done <<'LIST'
block 128 64
blockcausal 128 64
blockhead 128 64
block 128 128
blockcausal 128 128
blockcausal 16 64
blockcausal 16 128
blockcausal 32 64
block 64 128
blockhead 256 64
LIST

# A user predicate (prefix-LM: keys below 256 are visible to every query,
# the rest causally), straight from the example.
"$build_dir/bin/attn-compile" "$root/examples/custom.mlir" -o "$out/prefixlm_d64"
echo "prefixlm_d64       compiled"

# A predicate that reads a per-row value from memory (extra argument).
"$build_dir/bin/attn-compile" "$root/examples/row_limit.mlir" -o "$out/rowlimit_d64"
echo "rowlimit_d64       compiled"

# A list schedule (block-sparse, causal) written at L2: lists from the
# caller until a planner produces them.
"$build_dir/bin/attn-compile" "$root/bench/kernels/block_list_l2.mlir" \
  -o "$out/blocklist_d64"
echo "blocklist_d64      compiled"

# SPION end to end, straight from the example: the derivation, the lists
# and the block-sparse attention in one bundle.
"$build_dir/bin/attn-compile" "$root/examples/spion.mlir" -o "$out/spion_example"
echo "spion_example      compiled"

# SPION's pattern derivation alone, from a score map of any size: the
# bundles bench/bench_attention.py's SPION_BUNDLES lists (name, variant,
# filter size, block size, density, score dtype; quantile 0.9).
while read -r name variant conv block density dtype; do
  extra=""
  [[ $density != - ]] && extra="density($density)"
  cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%scores: memref<?x?x${dtype}> {attn.name = "scores"},
                   %blocks: memref<?x?xi8> {attn.name = "blocks"}) {
  attn.flood_fill ins(%scores : memref<?x?x${dtype}>) outs(%blocks : memref<?x?xi8>)
                  conv_size($conv) block_size($block) quantile(0.9) variant($variant) $extra
  return
}
IR
  "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
  echo "$name compiled"
done <<'LIST'
spion_conv_flood_fill conv_flood_fill 31 64 - f32
spion_flood_fill flood_fill 31 64 - f32
spion_conv_topk conv_topk 31 64 0.2 f32
spion_conv_flood_fill_b8 conv_flood_fill 31 8 - f32
spion_conv_flood_fill_bf16 conv_flood_fill 15 32 - bf16
spion_conv_flood_fill_b128 conv_flood_fill 31 128 - f32
LIST

# N:M pruning (DFSS semantics): nm<n>_<m>_<base>_d<D>, bench/nm_bench.py.
# 2:4 and 1:2 (sparse tensor cores) over full and causal at both head dims
# are timed; 1:4, 2:8, 4:8 and a window base (dense P V on the pruned P)
# are checked only.
while read -r keep group base d; do
  name=nm${keep}_${group}_${base}_d${d}
  t="memref<?x?x?x${d}xbf16>"
  case $base in
    full) base_ops="" base_use="" ;;
    causal) base_ops="%b = attn.mask.causal" base_use="base(%b)" ;;
    window) base_ops="%b = attn.mask.window 256" base_use="base(%b)" ;;
  esac
  cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%q: $t, %k: $t, %v: $t, %o: $t, %lse: memref<?x?x?xf32>) {
  $base_ops
  %p = attn.mask.nm $keep of $group $base_use
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) mask(%p)
  return
}
IR
  "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
done <<'LIST'
2 4 full 64
2 4 causal 64
1 2 full 64
1 2 causal 64
2 4 full 128
2 4 causal 128
1 2 full 128
1 2 causal 128
1 4 causal 64
2 8 full 128
4 8 window 64
2 4 window 128
LIST
echo "nm*_d64, nm*_d128 compiled"

# Hash buckets and dropped keys/queries (Sparse Causal Flash Attention):
# bucket ids or keep flags from the caller (bench/scfa_bench.py), causal;
# one bundle per bucket count; the examples end to end (LSH in the bundle).
for d in 64 128; do
  t="memref<?x?x?x${d}xbf16>"
  for nb in 2 4 8 16 32 64; do
    name=hash${nb}_d${d}
    cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%q: $t, %k: $t, %v: $t, %o: $t, %lse: memref<?x?x?xf32>,
                   %qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi32>) {
  %c = attn.mask.causal
  %h = attn.mask.hash %qb, %kb buckets($nb) : memref<?x?x?xi32>, memref<?x?x?xi32>
  %m = attn.mask.and %c, %h
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) mask(%m)
  return
}
IR
    "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
  done
  name=drop_d${d}
  cat > "$out/ir/$name.mlir" <<IR
func.func @${name}(%q: $t, %k: $t, %v: $t, %o: $t, %lse: memref<?x?x?xf32>,
                   %kq: memref<?x?x?xi1>, %kk: memref<?x?x?xi1>) {
  %c = attn.mask.causal
  %d = attn.mask.drop %kq, %kk : memref<?x?x?xi1>, memref<?x?x?xi1>
  %m = attn.mask.and %c, %d
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) mask(%m)
  return
}
IR
  "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
  echo "hash*_d$d, drop_d$d compiled"
done
t="memref<?x?x?x64xbf16>"
cat > "$out/ir/hashfull8_d64.mlir" <<IR
func.func @hashfull8_d64(%q: $t, %k: $t, %v: $t, %o: $t,
                         %lse: memref<?x?x?xf32>, %qb: memref<?x?x?xi32>,
                         %kb: memref<?x?x?xi32>) {
  %h = attn.mask.hash %qb, %kb buckets(8) : memref<?x?x?xi32>, memref<?x?x?xi32>
  attn.attention ins(%q, %k, %v : $t, $t, $t) outs(%o : $t)
                 lse(%lse : memref<?x?x?xf32>) mask(%h)
  return
}
IR
"$build_dir/bin/attn-compile" "$out/ir/hashfull8_d64.mlir" -o "$out/hashfull8_d64"
# Q, K and V copied into sorted order first (--gather-rows) instead of
# loaded through the orders: timed beside the default bundles as
# attn_gather, to keep the faster way (bench/NOTES.md).
for d in 64 128; do
  for name in hash2_d$d hash4_d$d hash8_d$d hash16_d$d hash32_d$d drop_d$d; do
    "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" \
      -o "$out/${name}_gather" --gather-rows
  done
done
"$build_dir/bin/attn-compile" "$root/examples/hash.mlir" -o "$out/lsh_example"
"$build_dir/bin/attn-compile" "$root/examples/drop.mlir" -o "$out/drop_example"
echo "hashfull8_d64, lsh_example, drop_example compiled"

# Linear attention (bench/linear_bench.py): D = E = 128 and 64, D != E,
# and with the initial and final states. Variants of D = E = 128 timed
# beside linear_d128 (whose segment length is chosen at run time for
# about 128 (batch, head, segment) units): fixed segments of 2048 and 8192
# tokens, and 256 units.
while read -r name d e states; do
  qk="memref<?x?x?x${d}xbf16>" vo="memref<?x?x?x${e}xbf16>"
  state="memref<?x?x${d}x${e}xf32>"
  args="%q: $qk, %k: $qk, %v: $vo, %o: $vo, %s: memref<?xf32>"
  uses=""
  if [[ $states == 1 ]]; then
    args+=", %init: $state, %final: $state"
    uses="initial_state(%init : $state) final_state(%final : $state)"
  fi
  cat > "$out/ir/$name.mlir" <<IR
func.func @${name}($args) {
  attn.linear_attention ins(%q, %k, %v : $qk, $qk, $vo) outs(%o : $vo)
                        decay(%s : memref<?xf32>) $uses
  return
}
IR
  "$build_dir/bin/attn-compile" "$out/ir/$name.mlir" -o "$out/$name"
done <<LIST
linear_d128 128 128 0
linear_d64 64 64 0
linear_d64_e128 64 128 0
linear_d128_state 128 128 1
LIST
for segment in 2048 8192; do
  "$build_dir/bin/attn-compile" "$out/ir/linear_d128.mlir" \
    -o "$out/linear_d128_seg$segment" --linear-segment=$segment
done
"$build_dir/bin/attn-compile" "$out/ir/linear_d128.mlir" \
  -o "$out/linear_d128_units256" --linear-units=256
echo "linear_d128, linear_d64, linear_d64_e128, linear_d128_state compiled"

# The paper's own kernels (epfml/dynamic-sparse-flash-attention, Triton),
# timed by bench/scfa_bench.py when present: fetch the repository here and
# copy openwebtext2-experiments/src/models/{hsparse,qksparse}_attn.py to
# bench/peers/scfa/ (ignored by git), then carry bench/peers too.
