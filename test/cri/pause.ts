/**
 * A pod sandbox's `pause`, as a static x86-64 Linux program written byte by byte (no compiler on
 * the test path). Like Kubernetes' pause it exits 0 on SIGTERM or SIGINT and otherwise waits in
 * pause(2) forever. Handlers are what make the difference: a process that is PID 1 of its PID
 * namespace ignores every signal it has no handler for, so a pause without them would only ever
 * end by SIGKILL. With `message`, it first writes that to stdout (a native sidecar whose line
 * shows up in the CRI log).
 */

import { ELF_BASE as BASE, ELF_HEADERS as HEADERS, elfX64 } from '../harness/elf.js';

const SIGINT = 2;
const SIGTERM = 15;
/** x86-64 delivers a handled signal only with SA_RESTORER set (else the kernel raises SIGSEGV). */
const SA_RESTORER = 0x04000000;

const u32 = (value: number): number[] => [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];

/** The machine code; `at` gives the absolute addresses it refers to. */
function pauseCode(at: { message: number; messageLength: number; sigaction: number; handler?: number }, withMessage: boolean): number[] {
  const write = withMessage
    ? [
        0xb8, ...u32(1), // mov eax, 1 (write)
        0xbf, ...u32(1), // mov edi, 1 (stdout)
        0xbe, ...u32(at.message), // mov esi, message
        0xba, ...u32(at.messageLength), // mov edx, length
        0x0f, 0x05, // syscall
      ]
    : [];
  const install = (signal: number): number[] => [
    0xb8, ...u32(13), // mov eax, 13 (rt_sigaction)
    0xbf, ...u32(signal), // mov edi, signal
    0xbe, ...u32(at.sigaction), // mov esi, &action
    0x31, 0xd2, // xor edx, edx (no old action)
    0x41, 0xba, ...u32(8), // mov r10d, 8 (sizeof(sigset_t))
    0x0f, 0x05, // syscall
  ];
  const wait = [0xb8, ...u32(34), 0x0f, 0x05, 0xeb, 0xf7]; // again: mov eax, 34 (pause); syscall; jmp again
  const handler = [0xb8, ...u32(231), 0x31, 0xff, 0x0f, 0x05]; // exit_group(0)
  return [...write, ...install(SIGTERM), ...install(SIGINT), ...wait, ...handler];
}

export function pauseElfX64(options: { message?: string } = {}): Buffer {
  const message = Buffer.from(options.message ?? '', 'utf8');
  const withMessage = message.length > 0;
  // Lay out once with placeholder addresses to learn the sizes, then for real.
  const codeLength = pauseCode({ message: 0, messageLength: 0, sigaction: 0 }, withMessage).length;
  const handlerOffset = codeLength - 9;
  const sigactionOffset = HEADERS + Math.ceil(codeLength / 8) * 8;
  const messageOffset = sigactionOffset + 32;
  const code = pauseCode({ message: BASE + messageOffset, messageLength: message.length, sigaction: BASE + sigactionOffset }, withMessage);
  const handlerAddress = BASE + HEADERS + handlerOffset;

  const fileSize = messageOffset + message.length;
  const elf = elfX64(fileSize);
  Buffer.from(code).copy(elf, HEADERS);
  // struct kernel_sigaction { handler, flags, restorer, mask }: the handler never returns, so
  // the restorer is never used; it only has to be there.
  elf.writeBigUInt64LE(BigInt(handlerAddress), sigactionOffset);
  elf.writeBigUInt64LE(BigInt(SA_RESTORER), sigactionOffset + 8);
  elf.writeBigUInt64LE(BigInt(handlerAddress), sigactionOffset + 16);
  elf.writeBigUInt64LE(0n, sigactionOffset + 24);
  message.copy(elf, messageOffset);
  return elf;
}
