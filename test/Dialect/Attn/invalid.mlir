// RUN: attn-opt %s --split-input-file --verify-diagnostics

// One case per verifier message of the attn dialect.

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

func.func @key_dtype(%q: memref<?x?x?x64xbf16>, %k: memref<?x?x?x64xf16>,
                     %o: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{'attn.attention' op key element type 'f16' differs from query element type 'bf16'}}
  attn.attention ins(%q, %k, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>)
  return
}

// -----

func.func @value_dtype(%q: memref<?x?x?x64xbf16>, %v: memref<?x?x?x64xf32>,
                       %o: memref<?x?x?x64xbf16>) {
  // expected-error@+1 {{value element type 'f32' differs from query element type 'bf16'}}
  attn.attention ins(%q, %q, %v : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xf32>) outs(%o : memref<?x?x?x64xbf16>)
  return
}

// -----

func.func @output_dtype(%q: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xf32>) {
  // expected-error@+1 {{output element type 'f32' differs from query element type 'bf16'}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xf32>)
  return
}

// -----

func.func @dtype_unsupported(%q: memref<?x?x?x64xi8>) {
  // expected-error@+1 {{operand #0 must be 4D memref of 16-bit float or bfloat16 type or 32-bit float values}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xi8>, memref<?x?x?x64xi8>, memref<?x?x?x64xi8>) outs(%q : memref<?x?x?x64xi8>)
  return
}

// -----

func.func @rank(%q: memref<?x?x64xf16>, %k: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{operand #0 must be 4D memref}}
  attn.attention ins(%q, %k, %k : memref<?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%k : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @dynamic_head_dim(%q: memref<?x?x?x?xf16>) {
  // expected-error@+1 {{query head dimension (dimension 3) must be static}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x?xf16>, memref<?x?x?x?xf16>, memref<?x?x?x?xf16>) outs(%q : memref<?x?x?x?xf16>)
  return
}

// -----

func.func @head_dim_unsupported(%q: memref<?x?x?x48xf16>) {
  // expected-error@+1 {{query head dimension 48 is not supported (expected 16, 32, 64, 128 or 256)}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x48xf16>, memref<?x?x?x48xf16>, memref<?x?x?x48xf16>) outs(%q : memref<?x?x?x48xf16>)
  return
}

// -----

func.func @key_head_dim(%q: memref<?x?x?x64xf16>, %k: memref<?x?x?x128xf16>) {
  // expected-error@+1 {{key dimension 3 (head dimension) is 128 but query has 64}}
  attn.attention ins(%q, %k, %q : memref<?x?x?x64xf16>, memref<?x?x?x128xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @value_head_dim(%q: memref<?x?x?x64xf16>, %v: memref<?x?x?x40xf16>) {
  // expected-error@+1 {{value head dimension 40 is not supported}}
  attn.attention ins(%q, %q, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x40xf16>) outs(%q : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @output_head_dim(%q: memref<?x?x?x64xf16>, %v: memref<?x?x?x32xf16>) {
  // expected-error@+1 {{output dimension 3 (value head dimension) is 64 but value has 32}}
  attn.attention ins(%q, %q, %v : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x32xf16>) outs(%q : memref<?x?x?x64xf16>)
  return
}

// -----

func.func @key_batch(%q: memref<2x4x8x64xf16>, %k: memref<3x4x8x64xf16>) {
  // expected-error@+1 {{key dimension 0 (batch) is 3 but query has 2}}
  attn.attention ins(%q, %k, %k : memref<2x4x8x64xf16>, memref<3x4x8x64xf16>, memref<3x4x8x64xf16>) outs(%q : memref<2x4x8x64xf16>)
  return
}

// -----

func.func @value_heads(%q: memref<2x4x8x64xf16>, %k: memref<2x2x8x64xf16>, %v: memref<2x1x8x64xf16>) {
  // expected-error@+1 {{value dimension 1 (heads) is 1 but key has 2}}
  attn.attention ins(%q, %k, %v : memref<2x4x8x64xf16>, memref<2x2x8x64xf16>, memref<2x1x8x64xf16>) outs(%q : memref<2x4x8x64xf16>)
  return
}

// -----

func.func @value_seq(%q: memref<2x4x8x64xf16>, %k: memref<2x4x9x64xf16>, %v: memref<2x4x10x64xf16>) {
  // expected-error@+1 {{value dimension 2 (sequence length) is 10 but key has 9}}
  attn.attention ins(%q, %k, %v : memref<2x4x8x64xf16>, memref<2x4x9x64xf16>, memref<2x4x10x64xf16>) outs(%q : memref<2x4x8x64xf16>)
  return
}

// -----

func.func @output_seq(%q: memref<2x4x8x64xf16>, %o: memref<2x4x7x64xf16>) {
  // expected-error@+1 {{output dimension 2 (sequence length) is 7 but query has 8}}
  attn.attention ins(%q, %q, %q : memref<2x4x8x64xf16>, memref<2x4x8x64xf16>, memref<2x4x8x64xf16>) outs(%o : memref<2x4x7x64xf16>)
  return
}

// -----

func.func @output_heads(%q: memref<2x4x8x64xf16>, %o: memref<2x2x8x64xf16>) {
  // expected-error@+1 {{output dimension 1 (heads) is 2 but query has 4}}
  attn.attention ins(%q, %q, %q : memref<2x4x8x64xf16>, memref<2x4x8x64xf16>, memref<2x4x8x64xf16>) outs(%o : memref<2x2x8x64xf16>)
  return
}

// -----

func.func @gqa_heads(%q: memref<1x6x8x64xf16>, %k: memref<1x4x8x64xf16>) {
  // expected-error@+1 {{query heads (6) must be a multiple of key/value heads (4)}}
  attn.attention ins(%q, %k, %k : memref<1x6x8x64xf16>, memref<1x4x8x64xf16>, memref<1x4x8x64xf16>) outs(%q : memref<1x6x8x64xf16>)
  return
}

// -----

func.func @gqa_zero_heads(%q: memref<1x6x8x64xf16>, %k: memref<1x0x8x64xf16>) {
  // expected-error@+1 {{query heads (6) must be a multiple of key/value heads (0)}}
  attn.attention ins(%q, %k, %k : memref<1x6x8x64xf16>, memref<1x0x8x64xf16>, memref<1x0x8x64xf16>) outs(%q : memref<1x6x8x64xf16>)
  return
}

// -----

func.func @lse_seq(%q: memref<2x4x8x64xf16>, %lse: memref<2x4x9xf32>) {
  // expected-error@+1 {{lse dimension 2 (sequence length) is 9 but query has 8}}
  attn.attention ins(%q, %q, %q : memref<2x4x8x64xf16>, memref<2x4x8x64xf16>, memref<2x4x8x64xf16>) outs(%q : memref<2x4x8x64xf16>) lse(%lse : memref<2x4x9xf32>)
  return
}

// -----

func.func @lse_dtype(%q: memref<2x4x8x64xf16>, %lse: memref<2x4x8xf16>) {
  // expected-error@+1 {{operand #4 must be 3D memref of 32-bit float values}}
  attn.attention ins(%q, %q, %q : memref<2x4x8x64xf16>, memref<2x4x8x64xf16>, memref<2x4x8x64xf16>) outs(%q : memref<2x4x8x64xf16>) lse(%lse : memref<2x4x8xf16>)
  return
}

// -----

func.func @scale_negative(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{scale must be finite and positive, got -1}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) scale(-1.0)
  return
}

// -----

func.func @scale_inf(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{scale must be finite and positive, got inf}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) scale(0x7F800000)
  return
}

// -----

func.func @mask_block_argument(%q: memref<?x?x?x64xf16>, %m: !attn.mask) {
  // expected-error@+1 {{mask must be produced by an attn.mask.* op, so that its structure can be analysed}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m)
  return
}

// -----

func.func @mask_nested_block_argument(%q: memref<?x?x?x64xf16>, %m: !attn.mask) {
  // expected-note@+1 {{mask defined here}}
  %c = attn.mask.nm 2 of 4 base(%m)
  // expected-error@+1 {{mask must be produced by attn.mask.* ops, so that its structure can be analysed}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%c)
  return
}

// -----

func.func @hash_query_seq(%q: memref<1x4x8x64xf16>, %qb: memref<1x4x9xi32>, %kb: memref<1x4x8xi32>) {
  // expected-note@+1 {{mask defined here}}
  %h = attn.mask.hash %qb, %kb buckets(4) : memref<1x4x9xi32>, memref<1x4x8xi32>
  %c = attn.mask.causal
  %m = attn.mask.and %c, %h
  // expected-error@+1 {{query_buckets dimension 2 (sequence length) is 9 but query has 8}}
  attn.attention ins(%q, %q, %q : memref<1x4x8x64xf16>, memref<1x4x8x64xf16>, memref<1x4x8x64xf16>) outs(%q : memref<1x4x8x64xf16>) mask(%m)
  return
}

// -----

func.func @hash_key_heads(%q: memref<1x4x8x64xf16>, %k: memref<1x2x8x64xf16>, %qb: memref<1x4x8xi32>, %kb: memref<1x4x8xi32>) {
  // expected-note@+1 {{mask defined here}}
  %h = attn.mask.hash %qb, %kb buckets(4) : memref<1x4x8xi32>, memref<1x4x8xi32>
  // expected-error@+1 {{key_buckets dimension 1 (heads) is 4 but key has 2}}
  attn.attention ins(%q, %k, %k : memref<1x4x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x64xf16>) outs(%q : memref<1x4x8x64xf16>) mask(%h)
  return
}

// -----

func.func @drop_query_batch(%q: memref<1x4x8x64xf16>, %kq: memref<2x4x8xi1>, %kk: memref<?x4x8xi1>) {
  // expected-note@+1 {{mask defined here}}
  %d = attn.mask.drop %kq, %kk : memref<2x4x8xi1>, memref<?x4x8xi1>
  // expected-error@+1 {{query_keep dimension 0 (batch) is 2 but query has 1}}
  attn.attention ins(%q, %q, %q : memref<1x4x8x64xf16>, memref<1x4x8x64xf16>, memref<1x4x8x64xf16>) outs(%q : memref<1x4x8x64xf16>) mask(%d)
  return
}

// -----

func.func @drop_key_seq(%q: memref<1x4x8x64xf16>, %k: memref<1x4x16x64xf16>, %kq: memref<1x4x8xi8>, %kk: memref<1x4x8xi8>) {
  // expected-note@+1 {{mask defined here}}
  %d = attn.mask.drop %kq, %kk : memref<1x4x8xi8>, memref<1x4x8xi8>
  // expected-error@+1 {{key_keep dimension 2 (sequence length) is 8 but key has 16}}
  attn.attention ins(%q, %k, %k : memref<1x4x8x64xf16>, memref<1x4x16x64xf16>, memref<1x4x16x64xf16>) outs(%q : memref<1x4x8x64xf16>) mask(%d)
  return
}

// -----

func.func @block_shared(%q: memref<1x4x100x64xf16>, %bm: memref<3x2xi1>) {
  // expected-note@+1 {{mask defined here}}
  %b = attn.mask.block %bm size(64) : memref<3x2xi1>
  %n = attn.mask.nm 2 of 4 base(%b)
  // expected-error@+1 {{block_mask dimension 0 (query blocks) is 3 but ceil(query sequence / block size) has 2}}
  attn.attention ins(%q, %q, %q : memref<1x4x100x64xf16>, memref<1x4x100x64xf16>, memref<1x4x100x64xf16>) outs(%q : memref<1x4x100x64xf16>) mask(%n)
  return
}

// -----

func.func @block_shared_keys(%q: memref<1x4x100x64xf16>, %k: memref<1x4x30x64xf16>, %bm: memref<2x2xi1>) {
  // expected-note@+1 {{mask defined here}}
  %b = attn.mask.block %bm size(64) : memref<2x2xi1>
  // expected-error@+1 {{block_mask dimension 1 (key blocks) is 2 but ceil(key sequence / block size) has 1}}
  attn.attention ins(%q, %k, %k : memref<1x4x100x64xf16>, memref<1x4x30x64xf16>, memref<1x4x30x64xf16>) outs(%q : memref<1x4x100x64xf16>) mask(%b)
  return
}

// -----

func.func @block_per_head(%q: memref<1x4x128x64xf16>, %bm: memref<1x2x2x2xi1>) {
  // expected-note@+1 {{mask defined here}}
  %b = attn.mask.block %bm size(64) : memref<1x2x2x2xi1>
  // expected-error@+1 {{block_mask dimension 1 (heads) is 2 but query has 4}}
  attn.attention ins(%q, %q, %q : memref<1x4x128x64xf16>, memref<1x4x128x64xf16>, memref<1x4x128x64xf16>) outs(%q : memref<1x4x128x64xf16>) mask(%b)
  return
}

// -----

func.func @block_per_head_blocks(%q: memref<1x4x128x64xf16>, %bm: memref<1x4x3x2xi1>) {
  // expected-note@+1 {{mask defined here}}
  %b = attn.mask.block %bm size(64) : memref<1x4x3x2xi1>
  // expected-error@+1 {{block_mask dimension 2 (query blocks) is 3 but ceil(query sequence / block size) has 2}}
  attn.attention ins(%q, %q, %q : memref<1x4x128x64xf16>, memref<1x4x128x64xf16>, memref<1x4x128x64xf16>) outs(%q : memref<1x4x128x64xf16>) mask(%b)
  return
}

// -----

func.func @block_mask_rank(%bm: memref<4xi1>) {
  // expected-error@+1 {{operand #0 must be 2D/4D memref of 1-bit signless integer or 8-bit signless integer values}}
  %b = attn.mask.block %bm size(64) : memref<4xi1>
  return
}

// -----

func.func @mask_wrong_type(%q: memref<?x?x?x64xf16>, %m: i1) {
  // expected-error@+1 {{expected ')'}}
  attn.attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) mask(%m : i1)
  return
}

// -----

//===----------------------------------------------------------------------===//
// attn.linear_attention
//===----------------------------------------------------------------------===//

func.func @linear_seq(%q: memref<1x2x8x64xf16>, %k: memref<1x2x9x64xf16>) {
  // expected-error@+1 {{key dimension 2 (sequence length) is 9 but query has 8}}
  attn.linear_attention ins(%q, %k, %k : memref<1x2x8x64xf16>, memref<1x2x9x64xf16>, memref<1x2x9x64xf16>) outs(%q : memref<1x2x8x64xf16>)
  return
}

// -----

func.func @linear_heads(%q: memref<1x2x8x64xf16>, %v: memref<1x1x8x64xf16>) {
  // expected-error@+1 {{value dimension 1 (heads) is 1 but query has 2}}
  attn.linear_attention ins(%q, %q, %v : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x1x8x64xf16>) outs(%q : memref<1x2x8x64xf16>)
  return
}

// -----

func.func @linear_output(%q: memref<1x2x8x64xf16>, %v: memref<1x2x8x32xf16>) {
  // expected-error@+1 {{output dimension 3 (value head dimension) is 64 but value has 32}}
  attn.linear_attention ins(%q, %q, %v : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x32xf16>) outs(%q : memref<1x2x8x64xf16>)
  return
}

// -----

func.func @linear_decay(%q: memref<1x2x8x64xf16>, %s: memref<3xf32>) {
  // expected-error@+1 {{decay dimension 0 (heads) is 3 but query has 2}}
  attn.linear_attention ins(%q, %q, %q : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x64xf16>) outs(%q : memref<1x2x8x64xf16>) decay(%s : memref<3xf32>)
  return
}

// -----

func.func @linear_initial_state(%q: memref<1x2x8x64xf16>, %s: memref<1x2x32x64xf32>) {
  // expected-error@+1 {{initial_state dimension 2 (key head dimension) is 32 but key has 64}}
  attn.linear_attention ins(%q, %q, %q : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x64xf16>) outs(%q : memref<1x2x8x64xf16>) initial_state(%s : memref<1x2x32x64xf32>)
  return
}

// -----

func.func @linear_final_state(%q: memref<1x2x8x64xf16>, %s: memref<?x?x64x16xf32>) {
  // expected-error@+1 {{final_state dimension 3 (value head dimension) is 16 but value has 64}}
  attn.linear_attention ins(%q, %q, %q : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x64xf16>) outs(%q : memref<1x2x8x64xf16>) final_state(%s : memref<?x?x64x16xf32>)
  return
}

// -----

func.func @linear_state_batch(%q: memref<1x2x8x64xf16>, %s: memref<2x2x64x64xf32>) {
  // expected-error@+1 {{final_state dimension 0 (batch) is 2 but query has 1}}
  attn.linear_attention ins(%q, %q, %q : memref<1x2x8x64xf16>, memref<1x2x8x64xf16>, memref<1x2x8x64xf16>) outs(%q : memref<1x2x8x64xf16>) final_state(%s : memref<2x2x64x64xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// attn.conv_attention
//===----------------------------------------------------------------------===//

func.func @conv_bases(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{bases must be at least 1, got 0}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) bases(0) delta(1.0)
  return
}

// -----

func.func @conv_window(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{window must be at least 1, got -2}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) bases(2) window(-2) delta(1.0)
  return
}

// -----

func.func @conv_delta(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{delta must be finite and positive, got 0}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) bases(2) delta(0.0)
  return
}

// -----

func.func @conv_epsilon(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{epsilon must be finite and non-negative, got -0.5}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) bases(2) delta(1.0) epsilon(-0.5)
  return
}

// -----

func.func @conv_too_many_bases(%q: memref<1x1x8x64xf16>) {
  // expected-error@+1 {{bases (9) and window (1) must not exceed the sequence length (8)}}
  attn.conv_attention ins(%q, %q, %q : memref<1x1x8x64xf16>, memref<1x1x8x64xf16>, memref<1x1x8x64xf16>) outs(%q : memref<1x1x8x64xf16>) bases(9) delta(1.0)
  return
}

// -----

func.func @conv_scale(%q: memref<?x?x?x64xf16>) {
  // expected-error@+1 {{scale must be finite and positive, got 0}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x64xf16>, memref<?x?x?x64xf16>, memref<?x?x?x64xf16>) outs(%q : memref<?x?x?x64xf16>) bases(2) delta(1.0) scale(0.0)
  return
}

// -----

func.func @conv_head_dim(%q: memref<?x?x?x12xf16>) {
  // expected-error@+1 {{query head dimension 12 is not supported}}
  attn.conv_attention ins(%q, %q, %q : memref<?x?x?x12xf16>, memref<?x?x?x12xf16>, memref<?x?x?x12xf16>) outs(%q : memref<?x?x?x12xf16>) bases(2) delta(1.0)
  return
}

// -----

//===----------------------------------------------------------------------===//
// attn.lsh
//===----------------------------------------------------------------------===//

func.func @lsh_rotation_rows(%x: memref<?x?x?x64xf16>, %r: memref<32x4xf32>, %ids: memref<?x?x?xi32>) {
  // expected-error@+1 {{rotation dimension 0 (input head dimension) is 32 but input has 64}}
  attn.lsh ins(%x, %r : memref<?x?x?x64xf16>, memref<32x4xf32>) outs(%ids : memref<?x?x?xi32>)
  return
}

// -----

func.func @lsh_rotation_columns(%x: memref<?x?x?x64xf16>, %r: memref<64x0xf32>, %ids: memref<?x?x?xi32>) {
  // expected-error@+1 {{rotation must have at least one column (buckets = 2 x columns)}}
  attn.lsh ins(%x, %r : memref<?x?x?x64xf16>, memref<64x0xf32>) outs(%ids : memref<?x?x?xi32>)
  return
}

// -----

func.func @lsh_ids(%x: memref<1x2x8x64xf16>, %r: memref<64x4xf32>, %ids: memref<1x2x7xi32>) {
  // expected-error@+1 {{bucket_ids dimension 2 (sequence length) is 7 but input has 8}}
  attn.lsh ins(%x, %r : memref<1x2x8x64xf16>, memref<64x4xf32>) outs(%ids : memref<1x2x7xi32>)
  return
}

// -----

func.func @lsh_ids_dtype(%x: memref<1x2x8x64xf16>, %r: memref<64x4xf32>, %ids: memref<1x2x8xf32>) {
  // expected-error@+1 {{operand #2 must be 3D memref of signless integer values}}
  attn.lsh ins(%x, %r : memref<1x2x8x64xf16>, memref<64x4xf32>) outs(%ids : memref<1x2x8xf32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// attn.flood_fill
//===----------------------------------------------------------------------===//

func.func @ff_conv_even(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{conv_size must be odd, positive and at most 1073741824, got 30}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(30) block_size(64) quantile(0.9)
  return
}

// -----

func.func @ff_block_size(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{block_size must be a power of two of at most 1073741824, got 48}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(48) quantile(0.9)
  return
}

// -----

func.func @ff_quantile(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{quantile must be in [0, 1], got 1.5}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(1.5)
  return
}

// -----

func.func @ff_topk_density(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{variant conv_topk needs a density}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9) variant(conv_topk)
  return
}

// -----

func.func @ff_density_range(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{density must be in (0, 1], got 0}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9) variant(conv_topk) density(0.0)
  return
}

// -----

func.func @ff_density_unused(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{density is only meaningful for variant conv_topk}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9) density(0.5)
  return
}

// -----

func.func @ff_variant(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{expected string or keyword containing one of the following enum values for attribute 'variant' [conv_flood_fill, conv_topk, flood_fill]}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9) variant(bogus)
  return
}

// -----

func.func @ff_not_square(%s: memref<256x128xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{scores dimension 1 (keys) is 128 but scores dimension 0 has 256}}
  attn.flood_fill ins(%s : memref<256x128xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9)
  return
}

// -----

func.func @ff_not_multiple(%s: memref<200x200xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{score map size 200 is not a multiple of block_size 64}}
  attn.flood_fill ins(%s : memref<200x200xf32>) outs(%b : memref<4x4xi1>) conv_size(31) block_size(64) quantile(0.9)
  return
}

// -----

func.func @ff_blocks(%s: memref<?x256xf32>, %b: memref<4x8xi1>) {
  // expected-error@+1 {{block_mask dimension 1 (key blocks) is 8 but scores / block_size has 4}}
  attn.flood_fill ins(%s : memref<?x256xf32>) outs(%b : memref<4x8xi1>) conv_size(31) block_size(64) quantile(0.9)
  return
}

// -----

//===----------------------------------------------------------------------===//
// Mask ops
//===----------------------------------------------------------------------===//

func.func @window_size() {
  // expected-error@+1 {{window size must be at least 1, got 0}}
  %w = attn.mask.window 0
  return
}

// -----

func.func @hash_buckets(%qb: memref<?x?x?xi32>) {
  // expected-error@+1 {{number of buckets must be at least 1, got 0}}
  %h = attn.mask.hash %qb, %qb buckets(0) : memref<?x?x?xi32>, memref<?x?x?xi32>
  return
}

// -----

func.func @hash_dtype(%qb: memref<?x?x?xi32>, %kb: memref<?x?x?xi16>) {
  // expected-error@+1 {{query_buckets and key_buckets must have the same element type}}
  %h = attn.mask.hash %qb, %kb buckets(4) : memref<?x?x?xi32>, memref<?x?x?xi16>
  return
}

// -----

func.func @hash_batch(%qb: memref<2x?x?xi32>, %kb: memref<3x?x?xi32>) {
  // expected-error@+1 {{key_buckets dimension 0 (batch) is 3 but query_buckets has 2}}
  %h = attn.mask.hash %qb, %kb buckets(4) : memref<2x?x?xi32>, memref<3x?x?xi32>
  return
}

// -----

func.func @hash_float(%qb: memref<?x?x?xf32>) {
  // expected-error@+1 {{operand #0 must be 3D memref of signless integer values}}
  %h = attn.mask.hash %qb, %qb buckets(4) : memref<?x?x?xf32>, memref<?x?x?xf32>
  return
}

// -----

func.func @drop_batch(%kq: memref<2x?x?xi1>, %kk: memref<3x?x?xi1>) {
  // expected-error@+1 {{key_keep dimension 0 (batch) is 3 but query_keep has 2}}
  %d = attn.mask.drop %kq, %kk : memref<2x?x?xi1>, memref<3x?x?xi1>
  return
}

// -----

func.func @drop_dtype(%kq: memref<?x?x?xi32>) {
  // expected-error@+1 {{operand #0 must be 3D memref of 1-bit signless integer or 8-bit signless integer values}}
  %d = attn.mask.drop %kq, %kq : memref<?x?x?xi32>, memref<?x?x?xi32>
  return
}

// -----

func.func @nm_group() {
  // expected-error@+1 {{group size m must be 2, 4 or 8, got 3}}
  %p = attn.mask.nm 1 of 3
  return
}

// -----

func.func @nm_n_ge_m() {
  // expected-error@+1 {{kept count n must satisfy 1 <= n < m, got 4 of 4}}
  %p = attn.mask.nm 4 of 4
  return
}

// -----

func.func @nm_n_zero() {
  // expected-error@+1 {{kept count n must satisfy 1 <= n < m, got 0 of 8}}
  %p = attn.mask.nm 0 of 8
  return
}

// -----

func.func @nm_in_and() {
  %c = attn.mask.causal
  // expected-note@+1 {{N:M prune defined here}}
  %p = attn.mask.nm 2 of 4
  // expected-error@+1 {{an N:M prune cannot be an operand of 'and': give it the other masks as its base, e.g. attn.mask.nm 2 of 4 base(%other)}}
  %a = attn.mask.and %c, %p
  return
}

// -----

func.func @nm_of_nm() {
  %p = attn.mask.nm 2 of 4
  // expected-error@+1 {{an N:M prune cannot be the base of another one}}
  %q = attn.mask.nm 1 of 2 base(%p)
  return
}

// -----

func.func @tile_prune_columns(%s: memref<16x6xf32>) {
  // expected-error@+1 {{the tile's 6 columns must be a multiple of the group size 4}}
  attn.tile.prune %s keep(2) group(4) : memref<16x6xf32>
  return
}

// -----

func.func @tile_prune_pattern(%s: memref<16x16xf32>) {
  // expected-error@+1 {{N:M kept count n must satisfy 1 <= n < m, got 4 of 4}}
  attn.tile.prune %s keep(4) group(4) : memref<16x16xf32>
  return
}

// -----

func.func @block_size(%bm: memref<4x4xi1>) {
  // expected-error@+1 {{block size must be a power of two of at most 1073741824, got 96}}
  %b = attn.mask.block %bm size(96) : memref<4x4xi1>
  return
}

// -----

func.func @block_size_huge(%bm: memref<4x4xi1>) {
  // Block sizes past 2^30 are refused (2^62 would make index arithmetic
  // wrap), naming the limit.
  // expected-error@+1 {{block size must be a power of two of at most 1073741824, got 4611686018427387904}}
  %b = attn.mask.block %bm size(4611686018427387904) : memref<4x4xi1>
  return
}

// -----

func.func @ff_conv_huge(%s: memref<256x256xf32>, %b: memref<4x4xi1>) {
  // expected-error@+1 {{conv_size must be odd, positive and at most 1073741824, got 9223372036854775807}}
  attn.flood_fill ins(%s : memref<256x256xf32>) outs(%b : memref<4x4xi1>) conv_size(9223372036854775807) block_size(64) quantile(0.9)
  return
}

// -----

func.func @block_size_zero(%bm: memref<4x4xi1>) {
  // expected-error@+1 {{block size must be a power of two of at most 1073741824, got 0}}
  %b = attn.mask.block %bm size(0) : memref<4x4xi1>
  return
}

// -----

func.func @and_single() {
  %c = attn.mask.causal
  // expected-error@+1 {{needs at least two masks, got 1}}
  %a = attn.mask.and %c
  return
}

// -----

func.func @custom_arity() {
  // expected-error@+1 {{expected two predicate arguments (query index, key index) or four (batch, query head, query index, key index), got 3}}
  %m = attn.mask.custom (%i, %j, %k) {
    %t = arith.constant true
    attn.yield %t : i1
  }
  return
}

// -----

func.func @custom_yield_type() {
  %m = attn.mask.custom (%i, %j) {
    // expected-error@+1 {{invalid kind of type specified: expected builtin.integer, but found 'index'}}
    attn.yield %i : index
  }
  return
}

// -----

func.func @custom_terminator() {
  // expected-error@+1 {{predicate must end with attn.yield}}
  %m = attn.mask.custom (%i, %j) {
    llvm.unreachable
  }
  return
}

// -----

func.func @yield_outside() {
  %t = arith.constant true
  // expected-error@+1 {{'attn.yield' op expects parent op to be one of 'attn.mask.custom, attn.plan, attn.tile.mask, attn.fused.forward'}}
  attn.yield %t : i1
}

// -----

func.func @custom_generic() {
  // expected-error@+1 {{predicate must take two index arguments (query index, key index) or four (batch, query head, query index, key index)}}
  %m = "attn.mask.custom"() ({
  ^bb0(%i: index, %j: i32):
    %t = arith.constant true
    attn.yield %t : i1
  }) : () -> !attn.mask
  return
}

// -----

func.func @unknown_type(%m: !attn.bogus) {
  // expected-error@-1 {{unknown  type `bogus` in dialect `attn`}}
  return
}

// -----

!t = memref<?x?x?x64xf32>
func.func @plan_list(%q: !t, %o: !t) {
  // expected-error@+1 {{schedule 'list' needs a block_mask}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(list)
  return
}

// -----

!t = memref<?x?x?x64xf32>
func.func @plan_block_mask_without_list(%q: !t, %o: !t, %bm: memref<?x?xi8>) {
  // expected-error@+1 {{a block_mask or a token order needs schedule 'list'}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(dense) block_mask(%bm : memref<?x?xi8>) block_size(64)
  return
}

// -----

!t = memref<?x?x?x64xf32>
func.func @plan_block_size(%q: !t, %o: !t, %bm: memref<?x?xi8>) {
  // expected-error@+1 {{block size must be a power of two of at most 1073741824, got 48}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(list) block_mask(%bm : memref<?x?xi8>) block_size(48)
  return
}

// -----

func.func @plan_block_extents(%q: memref<2x4x256x64xf32>, %bm: memref<3x4xi8>) {
  // expected-error@+1 {{block_mask dimension 0 (query blocks) is 3 but ceil(query sequence / block size) has 4}}
  attn.plan ins(%q, %q, %q : memref<2x4x256x64xf32>, memref<2x4x256x64xf32>, memref<2x4x256x64xf32>) outs(%q : memref<2x4x256x64xf32>) scale(0.125) schedule(list) block_mask(%bm : memref<3x4xi8>) block_size(64)
  return
}

// -----

func.func @tile_lists_counts(%bm: memref<?x?xi8>, %c: memref<1x1x?x3xi32>, %x: memref<1x1x?x?xi32>, %n: index) {
  // expected-error@+1 {{counts must have a last extent of 2 (full and partial tiles), got 'memref<1x1x?x3xi32>'}}
  attn.tile_lists %bm size(64) into(%c, %x : memref<1x1x?x3xi32>, memref<1x1x?x?xi32>) extents(%n, %n) tiles(128, 64) : memref<?x?xi8>
  return
}

// -----

func.func @tile_lists_shared(%bm: memref<?x?xi8>, %c: memref<2x1x?x2xi32>, %x: memref<1x1x?x?xi32>, %n: index) {
  // expected-error@+1 {{a shared block mask takes lists of batch and head extent 1, got 'memref<2x1x?x2xi32>'}}
  attn.tile_lists %bm size(64) into(%c, %x : memref<2x1x?x2xi32>, memref<1x1x?x?xi32>) extents(%n, %n) tiles(128, 64) : memref<?x?xi8>
  return
}

// -----

func.func @tile_lists_size(%bm: memref<?x?xi8>, %c: memref<1x1x?x2xi32>, %x: memref<1x1x?x?xi32>, %n: index) {
  // expected-error@+1 {{size = 0 must be a power of two}}
  attn.tile_lists %bm size(0) into(%c, %x : memref<1x1x?x2xi32>, memref<1x1x?x?xi32>) extents(%n, %n) tiles(128, 64) : memref<?x?xi8>
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @plan_order_without_classes(%q: !t, %o: !t, %qb: memref<?x?x?xi32>) {
  // expected-error@+1 {{order(...) and classes(...) go together}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(list) order(%qb, %qb : memref<?x?x?xi32>, memref<?x?x?xi32>)
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @plan_keep_flags_classes(%q: !t, %o: !t, %kq: memref<?x?x?xi1>) {
  // expected-error@+1 {{keep_flags needs classes(1), got 2}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(list) order(%kq, %kq : memref<?x?x?xi1>, memref<?x?x?xi1>) classes(2) keep_flags
  return
}

// -----

!t = memref<2x4x?x64xbf16>
func.func @plan_order_keys_shape(%q: !t, %o: !t, %qb: memref<2x3x?xi32>) {
  // expected-error@+1 {{query order keys}}
  attn.plan ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) scale(0.125) schedule(list) order(%qb, %qb : memref<2x3x?xi32>, memref<2x3x?xi32>) classes(4)
  return
}

// -----

func.func @token_order_classes(%keys: memref<?x?x?xi32>, %order: memref<?x?x?xi32>) {
  // expected-error@+1 {{classes must lie in [1, 65536], got 0}}
  attn.token_order %keys into(%order, %order : memref<?x?x?xi32>, memref<?x?x?xi32>) classes(0) : memref<?x?x?xi32>
  return
}

// -----

func.func @token_order_shape(%keys: memref<1x2x8xi32>, %order: memref<1x2x9xi32>) {
  // expected-error@+1 {{order must have the extents of keys}}
  attn.token_order %keys into(%order, %order : memref<1x2x9xi32>, memref<1x2x9xi32>) classes(4) : memref<1x2x8xi32>
  return
}

// -----

func.func @token_order_count_keep_flags(%keys: memref<?x?x?xi1>, %order: memref<?x?x?xi32>, %count: memref<1xi32>) {
  // expected-error @+1 {{count_invalid needs bucket ids: every keep flag is valid}}
  attn.token_order %keys into(%order, %order : memref<?x?x?xi32>, memref<?x?x?xi32>) count_invalid(%count : memref<1xi32>) classes(1) keep_flags : memref<?x?x?xi1>
  return
}

// -----

func.func @token_order_count_shape(%keys: memref<?x?x?xi32>, %order: memref<?x?x?xi32>, %count: memref<2xi32>) {
  // expected-error @+1 {{memref<1xi32>}}
  attn.token_order %keys into(%order, %order : memref<?x?x?xi32>, memref<?x?x?xi32>) count_invalid(%count : memref<2xi32>) classes(4) : memref<?x?x?xi32>
  return
}

// -----

func.func @ordered_lists_summaries(%o: memref<?x?x?xi32>, %s: memref<?x?x?x3xi32>, %c: memref<?x?x?x2xi32>, %i: memref<?x?x?x?xi32>) {
  // expected-error@+1 {{summaries must have a last extent of 4}}
  attn.ordered_tile_lists queries(%o, %o) keys(%o, %o) summaries(%s) into(%c, %i) classes(4) tiles(64, 64) : memref<?x?x?xi32>, memref<?x?x?xi32>, memref<?x?x?x3xi32>, memref<?x?x?x2xi32>, memref<?x?x?x?xi32>
  return
}

// -----

!t = memref<?x?x?x64xbf16>
func.func @fused_orders_need_list(%q: !t, %o: !t, %i: index, %ord: memref<?x?x?xi32>) {
  // expected-error@+1 {{orders(...) need schedule 'list'}}
  attn.fused.forward ins(%q, %q, %q : !t, !t, !t) outs(%o : !t) at(%i, %i, %i) kv_head(%i) kv_tiles(%i, %i) orders(%ord, %ord : memref<?x?x?xi32>, memref<?x?x?xi32>) block(64, 64) scale(0.125) schedule(dense)
  return
}

// -----

// attn.fused.linear must write something.
func.func @fused_linear_nothing(%q: memref<?x?x?x64xbf16>, %i: index) {
  // expected-error@+1 {{writes nothing: give an output, state_out or final_state}}
  attn.fused.linear ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) at(%i, %i) tokens(%i, %i) block(64)
  return
}

// -----

func.func @fused_linear_block(%q: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>, %i: index) {
  // expected-error@+1 {{block = 48 must be a power of two between 16 and 256}}
  attn.fused.linear ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>) at(%i, %i) tokens(%i, %i) block(48)
  return
}

// -----

func.func @fused_linear_state(%q: memref<?x?x?x64xbf16>, %o: memref<?x?x?x64xbf16>, %st: memref<?x?x?x32xf32>, %i: index) {
  // expected-error@+1 {{state_in must have the value head dimension 64 as its static last extent}}
  attn.fused.linear ins(%q, %q, %q : memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>, memref<?x?x?x64xbf16>) outs(%o : memref<?x?x?x64xbf16>) state_in(%st [%i] : memref<?x?x?x32xf32>) at(%i, %i) tokens(%i, %i) block(64)
  return
}

// -----

func.func @linear_scan_length(%st: memref<?x?x?x64xf32>) {
  %zero = arith.constant 0 : index
  // expected-error@+1 {{segment length 0 must be positive}}
  attn.linear_scan %st segment(%zero) head_dim(64) : memref<?x?x?x64xf32>
  return
}

// -----

func.func @scale_rows_in_place_transpose(%t: memref<64x64xf32>, %r: f32, %i: index) {
  // expected-error@+1 {{a transposed scale needs a separate dest}}
  attn.tile.scale_rows %t into %t rate(%r) first(%i) step(1) transpose : memref<64x64xf32>, memref<64x64xf32>
  return
}
