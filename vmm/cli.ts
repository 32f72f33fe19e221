// `npm start`: until the PC platform exists (issue 3), runs a built-in real-mode program on the
// bare CPU: it prints a greeting through the debug port 0xE9, sums 1..1000 and halts.
import { Cpu, REG, SEG } from "./cpu.js";
import { loadCoreModule } from "./node/load-core.js";

const GREETING = "Hello from the guest CPU\n";

/** mov si,msg; next: lodsb; or al,al; jz done; out 0xE9,al; jmp next; done: (sum loop); hlt */
function demoProgram(origin: number): Uint8Array {
  const code: number[] = [];
  const msgAt = origin + 64;
  code.push(0xbe, msgAt & 0xff, msgAt >> 8); // mov si, msg
  code.push(0xac); // lodsb
  code.push(0x08, 0xc0); // or al, al
  code.push(0x74, 0x04); // jz +4
  code.push(0xe6, 0xe9); // out 0xE9, al
  code.push(0xeb, 0xf7); // jmp lodsb
  code.push(0x66, 0x31, 0xc0); // xor eax, eax
  code.push(0xb9, 0xe8, 0x03); // mov cx, 1000
  code.push(0x66, 0x0f, 0xb7, 0xd9); // movzx ebx, cx
  code.push(0x66, 0x01, 0xd8); // add eax, ebx
  code.push(0xe2, 0xf7); // loop
  code.push(0xf4); // hlt
  const bytes = new Uint8Array(64 + GREETING.length + 1);
  bytes.set(code);
  bytes.set(new TextEncoder().encode(GREETING), 64);
  return bytes;
}

async function main(): Promise<void> {
  let out = "";
  const cpu = await Cpu.create(loadCoreModule(), 1 << 20, {
    ioWrite: (port, _size, value) => {
      if (port === 0xe9) out += String.fromCharCode(value & 0xff);
    },
  });
  const origin = 0x7c00;
  cpu.writePhysical(origin, demoProgram(origin));
  cpu.setRealSegment(SEG.CS, 0);
  cpu.setRealSegment(SEG.DS, 0);
  cpu.eip = origin;
  const reason = cpu.run(1_000_000);
  process.stdout.write(out);
  console.log(
    `run: ${reason}; instructions retired: ${cpu.instructions}; EAX = ${cpu.reg(REG.EAX)} (sum of 1..1000 = 500500)`,
  );
  console.log("The PC platform and a Linux guest come with issue 3; see README.md.");
  if (reason !== "halt" || cpu.reg(REG.EAX) !== 500500) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
