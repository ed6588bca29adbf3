/** Load address of the tiny static programs the tests write byte by byte. */
export const ELF_BASE = 0x400000;
/** ELF header (64 bytes) plus one program header (56 bytes): the code starts right after. */
export const ELF_HEADERS = 64 + 56;

/**
 * A zeroed static x86-64 executable of `fileSize` bytes whose one PT_LOAD segment (read and
 * execute) maps the whole file at ELF_BASE, entering at ELF_BASE + ELF_HEADERS. The caller
 * writes its code and data from offset ELF_HEADERS on.
 */
export function elfX64(fileSize: number): Buffer {
  const elf = Buffer.alloc(fileSize);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, version 1, SysV
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(0x3e, 18); // x86-64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(BigInt(ELF_BASE + ELF_HEADERS), 24); // entry
  elf.writeBigUInt64LE(64n, 32); // program headers offset
  elf.writeBigUInt64LE(0n, 40); // no section headers
  elf.writeUInt32LE(0, 48);
  elf.writeUInt16LE(64, 52); // ELF header size
  elf.writeUInt16LE(56, 54); // program header size
  elf.writeUInt16LE(1, 56); // one program header
  elf.writeUInt16LE(64, 58);
  elf.writeUInt16LE(0, 60);
  elf.writeUInt16LE(0, 62);
  elf.writeUInt32LE(1, 64); // PT_LOAD
  elf.writeUInt32LE(5, 68); // R+X
  elf.writeBigUInt64LE(0n, 72); // from file offset 0
  elf.writeBigUInt64LE(BigInt(ELF_BASE), 80); // vaddr
  elf.writeBigUInt64LE(BigInt(ELF_BASE), 88); // paddr
  elf.writeBigUInt64LE(BigInt(fileSize), 96); // filesz
  elf.writeBigUInt64LE(BigInt(fileSize), 104); // memsz
  elf.writeBigUInt64LE(0x1000n, 112); // align
  return elf;
}
