# ringo-gdb.py — goroutines in gdb, as Go's runtime-gdb.py shows them.
#
#   (gdb) source /path/to/ringo/runtime/ringo-gdb.py
#   (gdb) info goroutines           every goroutine: id, state, where it waits
#   (gdb) goroutine 7 bt            the stack of goroutine 7
#
# A parked goroutine's registers are on its own stack, where
# ringo_swapcontext pushed them (runtime/asm_amd64.S: sp+48 holds rbp,
# sp+56 the return address, and the stack pointer after the switch is
# sp+64). "goroutine N bt" points the selected thread's registers there for
# the length of one `bt` and puts them back, so gdb unwinds the goroutine
# with its full debug information. A running goroutine is on some thread:
# use `thread apply all bt` for those.
import gdb

STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "waiting", 4: "dead", 5: "syscall"}


def _goroutines():
    # Looked up as a symbol, not parsed: the selected frame may be in C code,
    # where "::" does not parse.
    sym = gdb.lookup_global_symbol("ringo::runtime::sched") or gdb.lookup_static_symbol("ringo::runtime::sched")
    if sym is None:
        raise gdb.GdbError("ringo::runtime::sched not found: is this a ringo program with debug info?")
    sched = sym.value()
    if sched.type.code == gdb.TYPE_CODE_REF:
        sched = sched.referenced_value()
    impl = sched["allgs"]["_M_impl"]
    start, finish = impl["_M_start"], impl["_M_finish"]
    for i in range(int(finish - start)):
        yield (start + i).dereference()


def _status(g):
    return int(g["atomicstatus"]["_M_i"])


def _reason(g):
    r = str(g["waitreason"]).split("::")[-1]
    return r


def _find(goid):
    for g in _goroutines():
        if int(g["goid"]) == goid and _status(g) not in (0, 4):
            return g
    return None


class InfoGoroutines(gdb.Command):
    """info goroutines: list every live goroutine with its state."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        inferior = gdb.selected_inferior()
        for g in _goroutines():
            s = _status(g)
            if s in (0, 4):
                continue
            state = STATUS.get(s, "?")
            if s == 3:
                state += " (" + _reason(g) + ")"
            where = ""
            if s in (1, 3):
                sp = int(g["sched"]["sp"])
                pc = int.from_bytes(inferior.read_memory(sp + 56, 8).tobytes(), "little")
                sym = gdb.execute("info symbol %d" % pc, to_string=True).split(" in section")[0]
                where = " in " + sym.strip()
            print("goroutine %d [%s]%s" % (int(g["goid"]), state, where))


class GoroutineCmd(gdb.Command):
    """goroutine N bt: the backtrace of goroutine N."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) < 2 or args[1] != "bt":
            raise gdb.GdbError("usage: goroutine N bt")
        g = _find(int(args[0]))
        if g is None:
            raise gdb.GdbError("no goroutine %s" % args[0])
        if _status(g) in (2, 5):
            raise gdb.GdbError("goroutine %s is running on a thread: use `thread apply all bt`" % args[0])
        inferior = gdb.selected_inferior()
        sp = int(g["sched"]["sp"])
        read = lambda a: int.from_bytes(inferior.read_memory(a, 8).tobytes(), "little")
        rbp, pc = read(sp + 48), read(sp + 56)
        gdb.execute("frame 0", to_string=True)
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in ("rsp", "rbp", "rip")}
        try:
            gdb.execute("set $rsp = %d" % (sp + 64))
            gdb.execute("set $rbp = %d" % rbp)
            gdb.execute("set $rip = %d" % pc)
            gdb.execute("bt " + " ".join(args[2:]))
        finally:
            gdb.execute("frame 0", to_string=True)
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v))


InfoGoroutines()
GoroutineCmd()
print("ringo: `info goroutines` and `goroutine N bt` are available")
