// The shared parser (vmm/node/command-line.ts) and the CLI's flags (vmm/node/args.ts): every flag
// in QEMU's spelling and the project's, every error one line, --help listing every flag.

import { describe, expect, it } from "vitest";
import { CLI, parseArgs, parseEndpoint } from "../../vmm/node/args.js";
import { type CommandLine, HelpRequest, parseCommandLine, usage } from "../../vmm/node/command-line.js";
import { UserInputError } from "../../vmm/node/files.js";
import { parseLogItems } from "../../vmm/node/sinks.js";

const refuses = (argv: string[], pattern: RegExp) => {
  let err: unknown;
  try {
    parseArgs(argv);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UserInputError);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).not.toContain("\n");
};

describe("the shared parser", () => {
  const tool: CommandLine = {
    program: "tool",
    positionals: "PATH...",
    options: {
      runs: { type: "string", value: "N", help: "runs" },
      quick: { type: "boolean", help: "quick" },
      kernel: { type: "string", qemu: true, value: "FILE", help: "kernel" },
      only: { type: "string", multiple: true, value: "X", help: "only" },
      verbose: { type: "boolean", short: "v", help: "verbose" },
    },
  };

  it("takes QEMU's single-dash long options, --name value and --name=value alike", () => {
    for (const argv of [["-kernel", "k"], ["--kernel", "k"], ["--kernel=k"], ["-kernel=k"]]) {
      expect(parseCommandLine(tool, argv).values.kernel).toBe("k");
    }
  });

  it("keeps a value that starts with a dash as the value, not an option", () => {
    expect(parseCommandLine(tool, ["-kernel", "-weird-name"]).values.kernel).toBe("-weird-name");
  });

  it("collects repeated options in order, with their positions among the others", () => {
    const p = parseCommandLine(tool, ["--only", "a", "--quick", "--only", "b", "x", "-v", "y"]);
    expect(p.values.only).toEqual(["a", "b"]);
    expect(p.values.verbose).toBe(true);
    expect(p.positionals).toEqual(["x", "y"]);
    expect(p.tokens.map((t) => t.name)).toEqual(["only", "quick", "only", "verbose"]);
  });

  it("names an unknown option, a missing value, a value on a switch, a stray argument", () => {
    const bad = (cl: CommandLine, argv: string[], re: RegExp) => {
      expect(() => parseCommandLine(cl, argv)).toThrow(UserInputError);
      expect(() => parseCommandLine(cl, argv)).toThrow(re);
    };
    bad(tool, ["--nope"], /unknown option '--nope' \(tool --help lists them\)/);
    bad(tool, ["--runs"], /--runs needs a value/);
    bad(tool, ["--quick=yes"], /--quick takes no value/);
    bad({ ...tool, positionals: undefined }, ["stray"], /unexpected argument 'stray'/);
  });

  it("answers -h and --help with the usage, which lists every option", () => {
    expect(() => parseCommandLine(tool, ["-h"])).toThrow(HelpRequest);
    const text = usage(tool);
    for (const f of ["--runs N", "--quick", "-kernel FILE", "--only X", "-v, --verbose", "PATH..."]) {
      expect(text).toContain(f);
    }
  });
});

describe("npm start's flags", () => {
  it("lists every flag in --help", () => {
    let help = "";
    try {
      parseArgs(["--help"]);
    } catch (e) {
      expect(e).toBeInstanceOf(HelpRequest);
      help = (e as Error).message;
    }
    for (const [name, spec] of Object.entries(CLI.options)) {
      expect(help).toContain(`${spec.qemu || name.length === 1 ? "-" : "--"}${name}`);
    }
    for (const qemu of [
      "-m ",
      "-kernel",
      "-initrd",
      "-append",
      "-hda",
      "-hdb",
      "-hdc",
      "-hdd",
      "-cdrom",
      "-drive",
      "-bios",
      "-boot",
      "-serial",
      "-monitor",
      "-nographic",
      "-no-reboot",
      "-S ",
      "-s ",
      "-gdb",
      "-d ",
      "-D ",
      "-version",
      "-accel",
      "-qmp",
      "-debugcon",
    ]) {
      expect(help).toContain(qemu);
    }
  });

  it("reads each QEMU flag", () => {
    const a = parseArgs([
      "-m",
      "128",
      "-kernel",
      "k",
      "-initrd",
      "i",
      "-append",
      "-v quiet",
      "-hdb",
      "b.img",
      "-hdd",
      "d.img",
      "-serial",
      "file:out.txt",
      "-monitor",
      "stdio",
      "-nographic",
      "-no-reboot",
      "-S",
      "-s",
      "-d",
      "int,exits",
      "-D",
      "log.txt",
      "-accel",
      "kvm,mmu=shadow",
      "-debugcon",
      "stdio",
      "-qmp",
      "tcp::4444,server,wait=off",
    ]);
    expect(a.memMiB).toBe(128);
    expect(a.kernel).toBe("k");
    expect(a.initrd).toBe("i");
    expect(a.append).toBe("-v quiet");
    expect(a.hdb).toBe("b.img");
    expect(a.hdd).toBe("d.img");
    expect(a.serial).toEqual({ kind: "file", path: "out.txt" });
    expect(a.monitor).toBe("stdio");
    expect(a.noReboot).toBe(true);
    expect(a.startPaused).toBe(true);
    expect(a.gdbPort).toBe(1234);
    expect([...a.log]).toEqual(["int", "exits"]);
    expect(a.logFile).toBe("log.txt");
    expect(a.mode).toBe("hvm");
    expect(a.mmu).toBe("shadow");
    expect(a.debug.consoles.get(0xe9)).toEqual({ kind: "stdio" });
    expect(a.qmp).toEqual([{ kind: "tcp", host: "127.0.0.1", port: 4444 }]);
    expect(a.firmwareBoot).toBe(false);
  });

  it("keeps the project's --mode, --mmu, --jit, --clock, --stats, --max-instructions", () => {
    const a = parseArgs([
      "--mode",
      "bt",
      "--mmu",
      "shadow",
      "--jit",
      "off",
      "--clock",
      "realtime",
      "--stats",
      "--max-instructions",
      "5",
    ]);
    expect([a.mode, a.mmu, a.jit, a.clock, a.stats, a.maxInstructions]).toEqual([
      "bt",
      "shadow",
      false,
      "realtime",
      true,
      5,
    ]);
    expect(parseArgs(["-accel", "tcg"]).mode).toBe("native");
    expect(parseArgs(["-gdb", "tcp::9000"]).gdbPort).toBe(9000);
  });

  it("boots the firmware from any of -hda..-hdd and -cdrom", () => {
    for (const f of ["-hda", "-hdb", "-hdc", "-hdd", "-cdrom"]) {
      const a = parseArgs([f, "x.img"]);
      expect(a.firmwareBoot).toBe(true);
      expect(a.bootLetters).toBe(f === "-cdrom" ? "d" : "c");
    }
  });

  it("takes -device isa-debugcon and isa-debug-exit where this machine has them", () => {
    const a = parseArgs([
      "-device",
      "isa-debugcon,iobase=0x402,chardev=file:dbg.txt",
      "-device",
      "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]);
    expect(a.debug.consoles.get(0x402)).toEqual({ kind: "file", path: "dbg.txt" });
    refuses(["-device", "isa-debugcon,iobase=0x300"], /debug consoles are at iobase=0xe9 and 0x402/);
    refuses(["-device", "isa-debug-exit,iobase=0x501"], /isa-debug-exit sits at iobase=0xf4/);
    refuses(["-device", "isa-debugcon,speed=9"], /no option 'speed'/);
  });

  it("says in one line what is wrong with each flag", () => {
    refuses(["-monitor", "telnet"], /-monitor telnet: use stdio, vc or none/);
    refuses(["-gdb", "udp::1"], /-gdb udp::1: use tcp::PORT/);
    refuses(["-gdb", "tcp::70000"], /give a port from 1 to 65535/);
    refuses(["-accel", "hax"], /-accel hax: use tcg/);
    refuses(["-accel", "hvm,speed=9"], /'speed=9' is not an option/);
    refuses(["-accel", "bt,mmu=ept"], /shadow page tables/);
    refuses(["-d", "int,bogus"], /no log item 'bogus'/);
    refuses(["-debugcon", "tcp:1"], /-debugcon tcp:1: use stdio, none or file:PATH/);
    refuses(["-qmp", "udp:1"], /use unix:PATH,server/);
    refuses(["-qmp", "tcp:10.0.0.1:4444,server"], /loopback only/);
    refuses(["-qmp", "stdio", "-monitor", "stdio"], /cannot share the terminal/);
    refuses(["-S=1"], /-S takes no value/);
    refuses(["-hda"], /-hda needs a value/);
    refuses(["stray"], /unexpected argument 'stray'/);
    refuses(["-no-reboot", "--bogus"], /unknown option '--bogus'/);
  });

  it("answers -version and -d help on stdout (HelpRequest)", () => {
    expect(() => parseArgs(["-version"])).toThrow(/x86lab 0\.1\.0/);
    expect(() => parseLogItems("help")).toThrow(HelpRequest);
    expect(() => parseLogItems("help")).toThrow(/cpu_reset/);
  });

  it("parses QMP endpoints as QEMU spells them", () => {
    expect(parseEndpoint("-qmp", "unix:/tmp/q.sock,server,wait=off")).toEqual({ kind: "unix", path: "/tmp/q.sock" });
    expect(parseEndpoint("-qmp", "tcp:localhost:5555,server,nowait")).toEqual({
      kind: "tcp",
      host: "localhost",
      port: 5555,
    });
    expect(parseEndpoint("-qmp", "stdio")).toEqual({ kind: "stdio" });
  });
});
