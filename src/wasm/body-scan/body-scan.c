// Reads one WebAssembly function body and tells whether it has a loop, a loop inside a loop, and
// whether it calls itself. Built to wasm32 (build.sh beside this file) and run by the runner on
// the guest's bytes before they are compiled (src/wasm/compile-hints.ts): the runner runs this at
// every container start, before V8 has optimised any of its JavaScript, and a JavaScript reader
// took 4-10 ms over a hello's 28 KB where this takes well under one.
//
// The host copies the guest module into this module's memory at guest_at() and calls
// body_shape(start, end, own_index) for each body it wants read: [start, end) is the body (its
// locals first) as offsets into the guest module, own_index the function's index. The answer is
// a set of SHAPE_* bits, or 0 when the body holds an instruction this reader does not know, nests
// deeper than it keeps track of, or its immediates run past its end.

typedef unsigned int u32;
typedef unsigned char u8;

enum { SHAPE_READ = 1, SHAPE_HAS_LOOP = 2, SHAPE_CALLS_ITSELF = 4, SHAPE_NESTED_LOOP = 8 };

// How an instruction's immediates are laid out, by opcode. UNKNOWN is 0, so every opcode the
// table leaves out (0xfb, GC, and anything newer) is one this reader does not know.
enum {
  UNKNOWN, NONE, BLOCK_TYPE, ONE_LEB, TWO_LEBS, MEM_ARG, BR_TABLE, SELECT_TYPES, TRY_TABLE,
  FOUR_BYTES, EIGHT_BYTES, PREFIX_MISC, PREFIX_SIMD, PREFIX_ATOMIC,
};

enum { OP_LOOP = 0x03, OP_END = 0x0b, OP_CALL = 0x10, OP_RETURN_CALL = 0x12, OP_DELEGATE = 0x18, OP_TRY_TABLE = 0x1f };

// Blocks open at once, at most; a body that nests deeper is unreadable.
enum { MAX_NESTING = 1024 };
// For each open block, whether it is a loop.
static u8 open_is_loop[MAX_NESTING];

static const u8 layout[256] = {
    [0x00] = NONE, [0x01] = NONE,                                    // unreachable, nop
    [0x02] = BLOCK_TYPE, [OP_LOOP] = BLOCK_TYPE, [0x04] = BLOCK_TYPE, // block, loop, if
    [0x05] = NONE, [0x06] = BLOCK_TYPE,                              // else, try
    [0x07 ... 0x09] = ONE_LEB,                                       // catch, throw, rethrow
    [0x0a] = NONE, [0x0b] = NONE,                                    // throw_ref, end
    [0x0c] = ONE_LEB, [0x0d] = ONE_LEB, [0x0e] = BR_TABLE,           // br, br_if, br_table
    [0x0f] = NONE,                                                   // return
    [OP_CALL] = ONE_LEB, [0x11] = TWO_LEBS,                          // call, call_indirect
    [OP_RETURN_CALL] = ONE_LEB, [0x13] = TWO_LEBS,                   // their tail-call forms
    [0x14] = ONE_LEB, [0x15] = ONE_LEB, [0x18] = ONE_LEB,            // call_ref, return_call_ref, delegate
    [0x19 ... 0x1b] = NONE,                                          // catch_all, drop, select
    [0x1c] = SELECT_TYPES, [0x1f] = TRY_TABLE,
    [0x20 ... 0x26] = ONE_LEB,                                       // locals, globals, table.get/set
    [0x28 ... 0x3e] = MEM_ARG,                                       // loads and stores
    [0x3f ... 0x42] = ONE_LEB,                                       // memory.size/grow, i32/i64.const
    [0x43] = FOUR_BYTES, [0x44] = EIGHT_BYTES,                       // f32/f64.const
    [0x45 ... 0xc4] = NONE,                                          // numeric instructions
    [0xd0] = ONE_LEB, [0xd1] = NONE, [0xd2] = ONE_LEB,               // ref.null, ref.is_null, ref.func
    [0xd3] = NONE, [0xd4] = NONE,                                    // ref.eq, ref.as_non_null
    [0xd5] = ONE_LEB, [0xd6] = ONE_LEB,                              // br_on_null, br_on_non_null
    [0xfc] = PREFIX_MISC, [0xfd] = PREFIX_SIMD, [0xfe] = PREFIX_ATOMIC,
};

// Where the guest module is: past this module's own data and stack. Reads past a body's end are
// caught by the check at the end of it, and reads past the memory trap, which the host takes as
// an unreadable body.
extern u8 __heap_base;
static const u8 *const bytes = &__heap_base;

__attribute__((export_name("guest_at"))) u32 guest_at(void) { return (u32)(unsigned long)&__heap_base; }

// An unsigned LEB128; longer than five bytes only in a malformed body, which stops it anyway.
static u32 read_u32(u32 *pos) {
  u32 result = 0, shift = 0;
  u8 b;
  do {
    b = bytes[(*pos)++];
    if (shift < 32) result |= (u32)(b & 0x7f) << shift;
    shift += 7;
  } while ((b & 0x80) && shift < 70);
  return result;
}

static void skip_leb(u32 *pos) {
  for (u32 i = 0; i < 10 && (bytes[(*pos)++] & 0x80); i++) {
  }
}

static void skip_val_type(u32 *pos) {
  u8 t = bytes[(*pos)++];
  if (t == 0x63 || t == 0x64) skip_leb(pos); // (ref null ht), (ref ht)
}

// A value type, the empty type (0x40) or a type index: one s33; reference types carry a heap type.
static void skip_block_type(u32 *pos) {
  u8 b = bytes[*pos];
  if (b == 0x63 || b == 0x64) (*pos)++;
  skip_leb(pos);
}

static void skip_mem_arg(u32 *pos) {
  u32 align = read_u32(pos);
  if (align & 0x40) skip_leb(pos); // multi-memory: a memory index follows
  skip_leb(pos);
}

// 0xfc: saturating truncations, bulk memory and table instructions.
static int skip_misc(u32 *pos) {
  u32 sub = read_u32(pos);
  if (sub <= 7) return 1;
  if (sub > 17) return 0;
  skip_leb(pos);
  if (sub == 8 || sub == 10 || sub == 12 || sub == 14) skip_leb(pos);
  return 1;
}

// 0xfd: 128-bit SIMD, relaxed SIMD included.
static int skip_simd(u32 *pos) {
  u32 sub = read_u32(pos);
  if (sub <= 11 || sub == 92 || sub == 93) skip_mem_arg(pos); // loads, store
  else if (sub == 12 || sub == 13) *pos += 16;                // v128.const, i8x16.shuffle
  else if (sub >= 21 && sub <= 34) *pos += 1;                 // extract and replace lane
  else if (sub >= 84 && sub <= 91) {                          // lane loads and stores
    skip_mem_arg(pos);
    *pos += 1;
  } else if (sub > 0x113) return 0; // past relaxed SIMD (0x100-0x113)
  return 1;
}

// 0xfe: threads.
static int skip_atomic(u32 *pos) {
  u32 sub = read_u32(pos);
  if (sub == 0x03) *pos += 1; // atomic.fence
  else if (sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e)) skip_mem_arg(pos);
  else return 0;
  return 1;
}

__attribute__((export_name("body_shape"))) u32 body_shape(u32 start, u32 end, u32 own_index) {
  u32 pos = start, shape = SHAPE_READ, open = 0, open_loops = 0;
  for (u32 groups = read_u32(&pos); groups > 0 && pos < end; groups--) {
    skip_leb(&pos);
    skip_val_type(&pos);
  }
  while (pos < end) {
    u8 op = bytes[pos++];
    switch (layout[op]) {
    case NONE:
      // end closes a block or, with none open, the body.
      if (op == OP_END && open > 0) open_loops -= open_is_loop[--open];
      break;
    case BLOCK_TYPE:
      if (open == MAX_NESTING) return 0;
      if (op == OP_LOOP) shape |= open_loops > 0 ? SHAPE_HAS_LOOP | SHAPE_NESTED_LOOP : SHAPE_HAS_LOOP;
      open_loops += open_is_loop[open++] = op == OP_LOOP;
      skip_block_type(&pos);
      break;
    case ONE_LEB:
      if (op == OP_DELEGATE && open > 0) open_loops -= open_is_loop[--open]; // closes its try
      if (op == OP_CALL || op == OP_RETURN_CALL) {
        if (read_u32(&pos) == own_index) shape |= SHAPE_CALLS_ITSELF;
      } else {
        skip_leb(&pos);
      }
      break;
    case TWO_LEBS:
      skip_leb(&pos);
      skip_leb(&pos);
      break;
    case MEM_ARG:
      skip_mem_arg(&pos);
      break;
    case BR_TABLE:
      for (u32 targets = read_u32(&pos) + 1; targets > 0 && pos < end; targets--) skip_leb(&pos);
      break;
    case SELECT_TYPES:
      for (u32 types = read_u32(&pos); types > 0 && pos < end; types--) skip_val_type(&pos);
      break;
    case TRY_TABLE:
      if (open == MAX_NESTING) return 0;
      open_is_loop[open++] = 0;
      skip_block_type(&pos);
      for (u32 clauses = read_u32(&pos); clauses > 0 && pos < end; clauses--) {
        u8 kind = bytes[pos++];
        if (kind > 3) return 0;
        skip_leb(&pos); // catch and catch_ref name a tag, then a label; the others a label
        if (kind < 2) skip_leb(&pos);
      }
      break;
    case FOUR_BYTES:
      pos += 4;
      break;
    case EIGHT_BYTES:
      pos += 8;
      break;
    case PREFIX_MISC:
      if (!skip_misc(&pos)) return 0;
      break;
    case PREFIX_SIMD:
      if (!skip_simd(&pos)) return 0;
      break;
    case PREFIX_ATOMIC:
      if (!skip_atomic(&pos)) return 0;
      break;
    default:
      return 0;
    }
  }
  return pos == end ? shape : 0;
}
