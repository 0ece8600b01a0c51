// unwind.cc — Goexit's own unwinder: the frames between Goexit and goexit,
// walked with a per-M cache of what each return address means.
//
// libgcc's forced unwind (panic.cc) is correct for every frame a compiler
// can produce, and slow for the few frames a Goexit crosses: each step looks
// the return address up again (_Unwind_Find_FDE), parses the CIE and FDE,
// runs the CFA program from the start of the function, and calls the C++
// personality, which parses the LSDA and scans its call-site table. About
// 300 ns a frame here, seven steps for a Goexit with one Defer.
//
// All of that depends only on the return address. So ringo decodes a return
// address once per M (thread), into a rule (framerule) that says, for a frame
// stopped at that address:
//   - where its CFA is (rsp or rbp plus an offset),
//   - where the caller's callee-saved registers and return address were
//     saved (CFA-relative slots), and
//   - what the personality would do for a Goexit there: nothing (pass), run
//     a landing pad (a cleanup, or a catch(...) or catch(abi::__forced_unwind&)
//     handler, with its selector), or stop (goexit's frame).
// The walk (ringo_unwind_walk) then costs a table lookup and a few loads a frame.
//
// The contract with libgcc, so that either unwinder can finish what the
// other started:
//   - The exception is Goexit's (G.exc, class kGoexitClass) with private_1 =
//     goexitStop and private_2 = kUnwindFast, which is exactly what
//     _Unwind_ForcedUnwind(exc, goexitStop, kUnwindFast) would have stored.
//   - A landing pad ends in _Unwind_Resume. ringo defines that symbol
//     (asm_amd64.S): for an exception marked kUnwindFast it continues the
//     walk here; for every other exception, and whenever this walk gives up,
//     it jumps to libgcc's _Unwind_Resume with the stack untouched, and
//     libgcc goes on with the forced unwind from that frame.
//   - A catch(...) that rethrows calls _Unwind_Resume_or_Rethrow, which is
//     libgcc's: it continues the forced unwind itself, and its next landing
//     pad's _Unwind_Resume comes back here.
// A walk has no side effect until it installs a landing pad or reaches
// goexit, so giving up (unwindwalk returns false) is always possible.
//
// It gives up on anything it does not decode: a frame without an FDE, a CFA
// that is not rsp or rbp plus an offset, register rules other than "saved at
// CFA+n" for n != 0 (expressions, realigned stacks, signal frames, a saved
// rsp), a GNU_args_size, another personality than C++'s (C code built with
// -fexceptions), an LSDA encoding it does not read, no memory for its
// cache, and the two cases where the personality would call std::terminate
// (an address missing from the call-site table: a noexcept frame; an
// exception specification): libgcc then reports them exactly as before.
// When it gives up at the start, Goexit calls _Unwind_ForcedUnwind with the
// same private_1/private_2, so the next landing pad comes back here too.
//
// Off under the sanitizers (ASan and TSan keep shadow state about stacks
// that only libgcc's paths are taught to fix), and on request:
// RINGO_GOEXIT_UNWIND=libgcc.

#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>
#include <unwind.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <typeinfo>

#include "fatal.h"
#include "runtime2.h"
#include "tls.h"
#include "unwinder.h"

#if defined(RINGO_NO_FAST_UNWIND)

namespace ringo::runtime {
bool unwindFast(_Unwind_Exception*) { return false; }
void unwindinit() {}
void* unwindStopArg() { return nullptr; }
void unwindcachefree(M*) {}
}  // namespace ringo::runtime

#else

extern "C" {
// libgcc's lookup of the FDE that covers pc (exported since GCC 3.0; the
// header that declares it is not installed). bases.func is the function's
// start, the base of its LSDA's offsets.
struct ringoEhBases {
  void* tbase;
  void* dbase;
  void* func;
};
const unsigned char* _Unwind_Find_FDE(void* pc, ringoEhBases* bases);
_Unwind_Reason_Code __gxx_personality_v0(int, _Unwind_Action, _Unwind_Exception_Class, _Unwind_Exception*,
                                         _Unwind_Context*);
[[noreturn]] void ringo_goexit1();
[[noreturn]] void ringo_unwind_install(const ringo::runtime::unwindRegs* r);
// libgcc's _Unwind_Resume, for every exception that is not a fast Goexit;
// resolved on first use by ringo_unwind_real_resume (asm_amd64.S reads it).
__attribute__((visibility("hidden"))) void* ringo_unwind_next_resume = nullptr;
__attribute__((visibility("hidden"))) void* ringo_unwind_real_resume();
__attribute__((visibility("hidden"))) bool ringo_unwind_walk(_Unwind_Exception* exc, ringo::runtime::unwindRegs* r);
}

namespace ringo::runtime {

static_assert(offsetof(unwindRegs, rbx) == 0 && offsetof(unwindRegs, rsp) == 48 &&
                  offsetof(unwindRegs, rip) == 56 && offsetof(unwindRegs, rax) == 64 &&
                  offsetof(unwindRegs, rdx) == 72 && sizeof(unwindRegs) == 80,
              "asm_amd64.S knows unwindRegs' layout");
static_assert(offsetof(_Unwind_Exception, exception_class) == 0 && offsetof(_Unwind_Exception, private_2) == 24,
              "asm_amd64.S knows _Unwind_Exception's layout");

namespace {

// DWARF register numbers (x86-64 psABI) of the registers a walk tracks: the
// callee-saved ones, in unwindRegs' order, then the return address column.
constexpr int kDwarfReg[6] = {3, 6, 12, 13, 14, 15};  // rbx rbp r12 r13 r14 r15
constexpr int kRegRSP = 7, kRegRBP = 6, kRegRA = 16;
constexpr int kTracked = 7;  // the six above, and the return address

int trackedIndex(uint64_t reg) {
  for (int i = 0; i < 6; i++)
    if (uint64_t(kDwarfReg[i]) == reg) return i;
  if (reg == uint64_t(kRegRA)) return 6;
  return -1;
}

enum frameKind : uint8_t { kEmpty, kPass, kLanding, kGoexit, kUnsupported };

// framerule: what a frame stopped at return address ra means to a Goexit.
struct framerule {
  uintptr_t ra = 0;
  uintptr_t lp = 0;       // kLanding: the landing pad
  int64_t selector = 0;   // kLanding: 0 for a cleanup, the filter of a handler
  int32_t cfaoff = 0;     // CFA = (cfareg == rsp ? rsp : rbp) + cfaoff
  int16_t saved[kTracked] = {};  // CFA-relative slot of each tracked register; 0: unchanged
  uint8_t cfareg = 0;
  frameKind kind = kEmpty;
};

// The per-M cache (M.unwindcache, allocated by the M's first Goexit):
// direct-mapped on the return address. A collision only costs a second
// decode.
//
// A rule is only as good as the code at its address: after a dlclose, and
// a dlopen that maps other code there, it would be wrong. libgcc asks the
// dynamic linker at every step; ringo asks once per Goexit, at its start,
// for the loader's counts of objects added and removed (dl_iterate_phdr),
// and publishes them in loadgen. Every walk (the start, and each resume,
// perhaps on another M) flushes a cache filled under other counts. Counts
// read at a Goexit's start cover every frame on its stack: those frames'
// code stays loaded while they are there.
constexpr size_t kCacheSize = 256;

struct framecache {
  uint64_t gen = 0;  // loadgen when the rules were decoded
  framerule rules[kCacheSize];
};

std::atomic<uint64_t> loadgen{0};  // only grows

int loaderCounts(dl_phdr_info* info, size_t size, void* data) {
  uint64_t n = UINT64_MAX;  // a loader without the counts (none since glibc 2.4): no fast path
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) n = info->dlpi_adds + info->dlpi_subs;
  *static_cast<uint64_t*>(data) = n;
  return 1;  // the counts are the same in every entry: the first will do
}

bool fastEnabled = false;  // set by unwindinit, before any M starts

// ---- reading DWARF ----

struct reader {
  const unsigned char* p;
  bool ok = true;

  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      unsigned char b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  int64_t sleb() {
    int64_t v = 0;
    int shift = 0;
    unsigned char b;
    do {
      if (shift >= 64) {
        ok = false;
        return 0;
      }
      b = *p++;
      v |= int64_t(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= -(int64_t(1) << shift);
    return v;
  }
  template <typename T>
  T fixed() {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }

  // encoded reads a pointer in one of the DW_EH_PE encodings this unwinder
  // supports: absolute or pc-relative, optionally indirect. 0 stays 0 (a
  // null ttype entry is catch(...)), as in libgcc.
  uintptr_t encoded(uint8_t enc) {
    if (enc == 0xff) return 0;  // DW_EH_PE_omit
    const unsigned char* at = p;
    uintptr_t v;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<uint64_t>(); break;                // absptr
      case 0x01: v = uleb(); break;                           // uleb128
      case 0x02: v = fixed<uint16_t>(); break;                // udata2
      case 0x03: v = fixed<uint32_t>(); break;                // udata4
      case 0x04: v = fixed<uint64_t>(); break;                // udata8
      case 0x09: v = uintptr_t(sleb()); break;                // sleb128
      case 0x0a: v = uintptr_t(int64_t(fixed<int16_t>())); break;  // sdata2
      case 0x0b: v = uintptr_t(int64_t(fixed<int32_t>())); break;  // sdata4
      case 0x0c: v = uintptr_t(fixed<int64_t>()); break;           // sdata8
      default: ok = false; return 0;
    }
    if (v == 0) return 0;
    switch (enc & 0x70) {
      case 0x00: break;                              // absolute
      case 0x10: v += reinterpret_cast<uintptr_t>(at); break;  // pcrel
      default: ok = false; return 0;
    }
    if (enc & 0x80) v = *reinterpret_cast<const uintptr_t*>(v);  // indirect
    return v;
  }
};

// encodedSize is the size of a fixed-size encoding, 0 for a variable one.
size_t encodedSize(uint8_t enc) {
  switch (enc & 0x0f) {
    case 0x00: case 0x04: case 0x0c: return 8;
    case 0x02: case 0x0a: return 2;
    case 0x03: case 0x0b: return 4;
    default: return 0;
  }
}

// ---- the CFA program ----

struct cfastate {
  uint64_t cfareg = 0;
  int64_t cfaoff = 0;
  int64_t saved[kTracked] = {};  // 0: not saved (same value)
};

struct cie {
  uint64_t codeAlign = 1;
  int64_t dataAlign = -8;
  bool augz = false;  // 'z': FDEs carry augmentation data
  uint8_t fdeEnc = 0, lsdaEnc = 0xff;
  uintptr_t personality = 0;
  const unsigned char* insns = nullptr;
  const unsigned char* end = nullptr;
};

// runcfa runs CFA instructions [r.p, end) from location loc while the
// location is before ra, as libgcc does for a return address (the rules at
// ra-1, the call). initial is the state after the CIE's instructions, for
// DW_CFA_restore.
bool runcfa(reader r, const unsigned char* end, uintptr_t loc, uintptr_t ra, const cie& c, cfastate& s,
            const cfastate* initial) {
  cfastate stack[8];
  int depth = 0;
  // setoff records "reg saved at CFA+off". A saved rsp (libgcc would take
  // the caller's rsp from that slot, not from the CFA) and a slot at CFA+0
  // (0 means "unchanged" in a framerule) are left to libgcc.
  auto setoff = [&](uint64_t reg, int64_t off) {
    if (reg == uint64_t(kRegRSP)) return false;
    int i = trackedIndex(reg);
    if (i < 0) return true;
    if (off == 0) return false;
    s.saved[i] = off;
    return true;
  };
  auto untrack = [&](uint64_t reg) {  // a rule this unwinder cannot follow
    return trackedIndex(reg) < 0 && reg != uint64_t(kRegRSP);
  };
  while (r.p < end && loc < ra) {
    uint8_t op = *r.p++;
    uint8_t low = op & 0x3f;
    switch (op >> 6) {
      case 1: loc += low * c.codeAlign; continue;  // advance_loc
      case 2:  // offset
        if (!setoff(low, int64_t(r.uleb()) * c.dataAlign)) return false;
        continue;
      case 3: {  // restore
        int i = trackedIndex(low);
        if (i >= 0) s.saved[i] = initial ? initial->saved[i] : 0;
        continue;
      }
    }
    switch (op) {
      case 0x00: break;                                          // nop
      case 0x01: loc = r.encoded(c.fdeEnc); break;               // set_loc
      case 0x02: loc += r.fixed<uint8_t>() * c.codeAlign; break;   // advance_loc1
      case 0x03: loc += r.fixed<uint16_t>() * c.codeAlign; break;  // advance_loc2
      case 0x04: loc += r.fixed<uint32_t>() * c.codeAlign; break;  // advance_loc4
      case 0x05: {  // offset_extended
        uint64_t reg = r.uleb();
        if (!setoff(reg, int64_t(r.uleb()) * c.dataAlign)) return false;
        break;
      }
      case 0x06: {  // restore_extended
        int i = trackedIndex(r.uleb());
        if (i >= 0) s.saved[i] = initial ? initial->saved[i] : 0;
        break;
      }
      case 0x07:  // undefined
      case 0x08: {  // same_value
        int i = trackedIndex(r.uleb());
        if (i >= 0) s.saved[i] = 0;
        break;
      }
      case 0x09: {  // register: reg held in another register
        uint64_t reg = r.uleb();
        r.uleb();
        if (!untrack(reg)) return false;
        break;
      }
      case 0x0a:  // remember_state
        if (depth == 8) return false;
        stack[depth++] = s;
        break;
      case 0x0b:  // restore_state: the whole row, the CFA rule included
        if (depth == 0) return false;
        s = stack[--depth];
        break;
      case 0x0c: s.cfareg = r.uleb(); s.cfaoff = int64_t(r.uleb()); break;  // def_cfa
      case 0x0d: s.cfareg = r.uleb(); break;                                 // def_cfa_register
      case 0x0e: s.cfaoff = int64_t(r.uleb()); break;                        // def_cfa_offset
      case 0x10:    // expression
      case 0x16: {  // val_expression
        uint64_t reg = r.uleb();
        r.p += r.uleb();
        if (!untrack(reg)) return false;
        break;
      }
      case 0x11: {  // offset_extended_sf
        uint64_t reg = r.uleb();
        if (!setoff(reg, r.sleb() * c.dataAlign)) return false;
        break;
      }
      case 0x12: s.cfareg = r.uleb(); s.cfaoff = r.sleb() * c.dataAlign; break;  // def_cfa_sf
      case 0x13: s.cfaoff = r.sleb() * c.dataAlign; break;                       // def_cfa_offset_sf
      case 0x14:    // val_offset
      case 0x15: {  // val_offset_sf
        uint64_t reg = r.uleb();
        if (op == 0x14) r.uleb(); else r.sleb();
        if (!untrack(reg)) return false;
        break;
      }
      case 0x2e:  // GNU_args_size: a landing pad would need rsp adjusted
        if (r.uleb() != 0) return false;
        break;
      default:  // def_cfa_expression, GNU_negative_offset_extended, vendor ops
        return false;
    }
    if (!r.ok) return false;
  }
  return r.ok;
}

// ---- the personality's answer ----

// lsdaAction is what __gxx_personality_v0 does for a forced unwind at ip
// (ra-1) in the function that starts at func: fills lp/selector for a
// landing pad, leaves lp 0 for "nothing here", returns false for what this
// unwinder leaves to libgcc (std::terminate cases, unread encodings).
bool lsdaAction(const unsigned char* lsda, uintptr_t func, uintptr_t ip, uintptr_t& lp, int64_t& selector) {
  reader r{lsda};
  uint8_t lpstartEnc = r.fixed<uint8_t>();
  uintptr_t lpstart = lpstartEnc == 0xff ? func : r.encoded(lpstartEnc);
  uint8_t ttypeEnc = r.fixed<uint8_t>();
  const unsigned char* ttype = nullptr;
  if (ttypeEnc != 0xff) {
    uint64_t off = r.uleb();
    ttype = r.p + off;
  }
  uint8_t csEnc = r.fixed<uint8_t>();
  if ((csEnc & 0x70) != 0) return false;  // call-site entries are absolute offsets
  uint64_t cslen = r.uleb();
  const unsigned char* actions = r.p + cslen;
  if (!r.ok) return false;

  while (r.p < actions) {
    uintptr_t start = r.encoded(csEnc), len = r.encoded(csEnc), pad = r.encoded(csEnc);
    uint64_t action = r.uleb();
    if (!r.ok) return false;
    if (ip < func + start) break;  // sorted: passed it
    if (ip >= func + start + len) continue;
    lp = 0;
    selector = 0;
    if (pad == 0) return true;  // nothing to run here
    if (action == 0) {          // cleanups only
      lp = lpstart + pad;
      return true;
    }
    bool sawCleanup = false;
    const unsigned char* rec = actions + action - 1;
    for (;;) {
      reader a{rec};
      int64_t filter = a.sleb();
      const unsigned char* dispAt = a.p;
      int64_t disp = a.sleb();
      if (!a.ok) return false;
      if (filter == 0) {
        sawCleanup = true;
      } else if (filter > 0) {
        size_t size = encodedSize(ttypeEnc);
        if (ttype == nullptr || size == 0) return false;
        reader t{ttype - size_t(filter) * size};
        auto* type = reinterpret_cast<const std::type_info*>(t.encoded(ttypeEnc));
        if (!t.ok) return false;
        // During a forced unwind the personality matches catch(...) and the
        // magic type abi::__forced_unwind, nothing else.
        if (type == nullptr || *type == typeid(abi::__forced_unwind)) {
          lp = lpstart + pad;
          selector = filter;
          return true;
        }
      } else {
        return false;  // an exception specification: leave it to libgcc
      }
      if (disp == 0) break;
      rec = dispAt + disp;
    }
    if (sawCleanup) lp = lpstart + pad;
    return true;
  }
  return false;  // not in the table: the personality would call std::terminate
}

// ---- decoding a return address ----

bool parsecie(const unsigned char* at, cie& c) {
  reader r{at};
  uint32_t len = r.fixed<uint32_t>();
  if (len == 0xffffffff) return false;  // 64-bit DWARF
  c.end = at + 4 + len;
  if (r.fixed<uint32_t>() != 0) return false;  // not a CIE
  uint8_t version = r.fixed<uint8_t>();
  if (version != 1 && version != 3) return false;
  const char* aug = reinterpret_cast<const char*>(r.p);
  r.p += strlen(aug) + 1;
  c.codeAlign = r.uleb();
  c.dataAlign = r.sleb();
  uint64_t raReg = version == 1 ? r.fixed<uint8_t>() : r.uleb();
  if (raReg != uint64_t(kRegRA)) return false;
  if (aug[0] == 'z') {
    c.augz = true;
    uint64_t auglen = r.uleb();
    const unsigned char* augEnd = r.p + auglen;
    for (const char* a = aug + 1; *a; a++) {
      switch (*a) {
        case 'L': c.lsdaEnc = r.fixed<uint8_t>(); break;
        case 'R': c.fdeEnc = r.fixed<uint8_t>(); break;
        case 'P': {
          uint8_t enc = r.fixed<uint8_t>();
          c.personality = r.encoded(enc);
          break;
        }
        default: return false;  // 'S' (a signal frame) and anything newer
      }
    }
    r.p = augEnd;
  } else if (aug[0] != '\0') {
    return false;
  }
  c.insns = r.p;
  return r.ok;
}

void decode(uintptr_t ra, framerule& f) {
  f = framerule{};
  f.ra = ra;
  f.kind = kUnsupported;
  if (isgoexitpc(ra)) {
    f.kind = kGoexit;
    return;
  }
  ringoEhBases bases{};
  const unsigned char* fde = _Unwind_Find_FDE(reinterpret_cast<void*>(ra - 1), &bases);
  if (fde == nullptr) return;
  reader r{fde};
  uint32_t len = r.fixed<uint32_t>();
  if (len == 0xffffffff) return;
  const unsigned char* fdeEnd = fde + 4 + len;
  const unsigned char* idAt = r.p;
  uint32_t cieOff = r.fixed<uint32_t>();
  cie c;
  if (!parsecie(idAt - cieOff, c)) return;
  size_t size = encodedSize(c.fdeEnc);
  if (size == 0) return;
  r.p += 2 * size;  // pc_begin and pc_range: bases.func has the start
  const unsigned char* lsda = nullptr;
  if (c.augz) {
    uint64_t auglen = r.uleb();
    const unsigned char* augEnd = r.p + auglen;
    if (c.lsdaEnc != 0xff) lsda = reinterpret_cast<const unsigned char*>(r.encoded(c.lsdaEnc));
    r.p = augEnd;
  }
  if (!r.ok) return;

  const uintptr_t func = reinterpret_cast<uintptr_t>(bases.func);
  cfastate initial, s;
  if (!runcfa(reader{c.insns}, c.end, func, UINTPTR_MAX, c, initial, nullptr)) return;
  s = initial;
  if (!runcfa(r, fdeEnd, func, ra, c, s, &initial)) return;
  if (s.cfareg != uint64_t(kRegRSP) && s.cfareg != uint64_t(kRegRBP)) return;
  if (s.saved[6] == 0) return;  // no saved return address
  for (int i = 0; i < kTracked; i++) {
    if (s.saved[i] < INT16_MIN || s.saved[i] > INT16_MAX) return;
    f.saved[i] = int16_t(s.saved[i]);
  }
  if (s.cfaoff < INT32_MIN || s.cfaoff > INT32_MAX) return;
  f.cfareg = uint8_t(s.cfareg);
  f.cfaoff = int32_t(s.cfaoff);

  // libgcc calls any personality, LSDA or not; only C++'s is known here.
  if (c.personality != 0 && c.personality != reinterpret_cast<uintptr_t>(&__gxx_personality_v0)) return;
  f.kind = kPass;
  if (lsda == nullptr || c.personality == 0) return;
  if (!lsdaAction(lsda, func, ra - 1, f.lp, f.selector)) {
    f.kind = kUnsupported;
    return;
  }
  if (f.lp != 0) f.kind = kLanding;
}

// mcache returns mp's cache, flushed if the loader's counts moved, or null
// when there is no memory for it (the walk then gives up: nothing may throw
// out of it).
framecache* mcache(M* mp) {
  if (mp->unwindcache == nullptr) mp->unwindcache = new (std::nothrow) framecache();
  auto* c = static_cast<framecache*>(mp->unwindcache);
  if (c == nullptr) return nullptr;
  const uint64_t gen = loadgen.load(std::memory_order_relaxed);
  if (c->gen != gen) {
    for (framerule& f : c->rules) f = framerule{};
    c->gen = gen;
  }
  return c;
}

// lookup returns the rule for ra, decoding it on a miss.
const framerule* lookup(framecache* c, uintptr_t ra) {
  framerule& f = c->rules[((ra >> 2) ^ (ra >> 11)) & (kCacheSize - 1)];
  if (f.ra != ra || f.kind == kEmpty) decode(ra, f);
  return &f;
}

}  // namespace

void unwindinit() {
  const char* env = getenv("RINGO_GOEXIT_UNWIND");
  fastEnabled = !(env != nullptr && strcmp(env, "libgcc") == 0);
}

void* unwindStopArg() { return fastEnabled ? reinterpret_cast<void*>(kUnwindFast) : nullptr; }

void unwindcachefree(M* mp) {
  delete static_cast<framecache*>(mp->unwindcache);
  mp->unwindcache = nullptr;
}

bool unwindFast(_Unwind_Exception* exc) {
  if (!fastEnabled) return false;
  uint64_t counts = UINT64_MAX;
  dl_iterate_phdr(loaderCounts, &counts);
  if (counts == UINT64_MAX) return false;
  uint64_t seen = loadgen.load(std::memory_order_relaxed);
  while (seen < counts && !loadgen.compare_exchange_weak(seen, counts, std::memory_order_relaxed)) {
  }
  exc->private_1 = reinterpret_cast<_Unwind_Ptr>(&goexitStop);
  exc->private_2 = kUnwindFast;
  return ringo_unwind_goexit(exc) != 0;  // returns only when it gives up
}

}  // namespace ringo::runtime

using namespace ringo::runtime;

// ringo_unwind_walk walks from the frame r describes (rip: a return address
// into it; rsp: its stack pointer after that return; the callee-saved
// registers as that frame sees them) towards goexit. It returns only to give
// up, before it has changed anything.
bool ringo_unwind_walk(_Unwind_Exception* exc, unwindRegs* r) {
  M* mp = getm();  // a goroutine's Goexit, so an M; the walk does not park
  if (mp == nullptr) return false;
  framecache* cache = mcache(mp);
  if (cache == nullptr) return false;
  for (int depth = 0; depth < 4096; depth++) {
    const framerule* fp = lookup(cache, r->rip);
    if (fp == nullptr) return false;
    const framerule f = *fp;
    switch (f.kind) {
      case kGoexit: {
        if (P* pp = mp->p) owneradd(pp->goexitFast, uint64_t(1));
        ringo_goexit1();
      }
      case kLanding:
        r->rip = f.lp;
        r->rax = reinterpret_cast<uintptr_t>(exc);
        r->rdx = uintptr_t(f.selector);
        ringo_unwind_install(r);
      case kPass: break;
      default: return false;
    }
    const uintptr_t cfa = (f.cfareg == kRegRSP ? r->rsp : r->rbp) + intptr_t(f.cfaoff);
    uintptr_t* regs = &r->rbx;
    uintptr_t next[6];
    for (int i = 0; i < 6; i++)
      next[i] = f.saved[i] ? *reinterpret_cast<const uintptr_t*>(cfa + intptr_t(f.saved[i])) : regs[i];
    r->rip = *reinterpret_cast<const uintptr_t*>(cfa + intptr_t(f.saved[6]));
    for (int i = 0; i < 6; i++) regs[i] = next[i];
    r->rsp = cfa;
  }
  return false;
}

void* ringo_unwind_real_resume() {
  void* next = dlsym(RTLD_NEXT, "_Unwind_Resume");
  if (next == nullptr) ringo::runtime::fatal("_Unwind_Resume: libgcc's is not found (dlsym: %s)", dlerror());
  __atomic_store_n(&ringo_unwind_next_resume, next, __ATOMIC_RELAXED);
  return next;
}

#endif  // RINGO_NO_FAST_UNWIND
