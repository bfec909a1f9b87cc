//! A small eBPF assembler (pure): instructions encoded as the kernel reads them
//! (`struct bpf_insn`, little-endian), jumps by label, and the map references the
//! loader relocates. Only what the fast path's program uses.

use std::collections::HashMap;

/// A register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reg(pub(crate) u8);

/// Return value and helpers' result.
pub(crate) const R0: Reg = Reg(0);
/// First argument (the context on entry).
pub(crate) const R1: Reg = Reg(1);
/// Second argument.
pub(crate) const R2: Reg = Reg(2);
/// Third argument.
pub(crate) const R3: Reg = Reg(3);
/// Fourth argument.
pub(crate) const R4: Reg = Reg(4);
/// Fifth argument.
pub(crate) const R5: Reg = Reg(5);
/// Kept across calls.
pub(crate) const R6: Reg = Reg(6);
/// Kept across calls.
pub(crate) const R7: Reg = Reg(7);
/// Kept across calls.
pub(crate) const R8: Reg = Reg(8);
/// Kept across calls.
pub(crate) const R9: Reg = Reg(9);
/// The frame pointer (read-only).
pub(crate) const FP: Reg = Reg(10);

/// Access sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    fn code(self) -> u8 {
        match self {
            Size::W => 0x00,
            Size::H => 0x08,
            Size::B => 0x10,
            Size::DW => 0x18,
        }
    }
}

/// Arithmetic operations (64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alu {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `&=`
    And,
    /// `>>=` (logical)
    Rsh,
    /// `^=`
    Xor,
    /// `=`
    Mov,
}

impl Alu {
    fn code(self) -> u8 {
        match self {
            Alu::Add => 0x00,
            Alu::Sub => 0x10,
            Alu::And => 0x50,
            Alu::Rsh => 0x70,
            Alu::Xor => 0xa0,
            Alu::Mov => 0xb0,
        }
    }
}

/// Jump conditions (64-bit, unsigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
}

impl Cond {
    fn code(self) -> u8 {
        match self {
            Cond::Eq => 0x10,
            Cond::Gt => 0x20,
            Cond::Ge => 0x30,
            Cond::Ne => 0x50,
            Cond::Lt => 0xa0,
        }
    }
}

const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const SRC_X: u8 = 0x08;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;
const OP_END: u8 = 0xd0;
const TO_BE: u8 = 0x08;

#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

/// A program being written: instructions, labels, and the jumps and map
/// references still to resolve.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    insns: Vec<Insn>,
    labels: HashMap<&'static str, usize>,
    jumps: Vec<(usize, &'static str)>,
    maps: Vec<(usize, &'static str)>,
}

/// The assembled program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assembled {
    /// The instructions' bytes.
    pub(crate) code: Vec<u8>,
    /// (byte offset of a 16-byte load, map name): the loader puts the map there.
    pub(crate) map_refs: Vec<(usize, &'static str)>,
}

/// A label that was jumped to but never placed, or placed twice, or a jump
/// too far.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("eBPF assembly: {0}")]
pub struct AsmError(String);

impl Asm {
    fn push(&mut self, code: u8, dst: Reg, src: Reg, off: i16, imm: i32) {
        self.insns.push(Insn {
            code,
            dst: dst.0,
            src: src.0,
            off,
            imm,
        });
    }

    /// Places `name` at the next instruction.
    pub(crate) fn label(&mut self, name: &'static str) {
        if self.labels.insert(name, self.insns.len()).is_some() {
            self.jumps.push((usize::MAX, name));
        }
    }

    /// `dst op= imm` (64-bit).
    pub(crate) fn alu_imm(&mut self, op: Alu, dst: Reg, imm: i32) {
        self.push(CLASS_ALU64 | op.code(), dst, Reg(0), 0, imm);
    }

    /// `dst op= src` (64-bit).
    pub(crate) fn alu_reg(&mut self, op: Alu, dst: Reg, src: Reg) {
        self.push(CLASS_ALU64 | op.code() | SRC_X, dst, src, 0, 0);
    }

    /// `dst = imm`.
    pub(crate) fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.alu_imm(Alu::Mov, dst, imm);
    }

    /// `dst = src`.
    pub(crate) fn mov(&mut self, dst: Reg, src: Reg) {
        self.alu_reg(Alu::Mov, dst, src);
    }

    /// `dst = htons(dst)` (the low 16 bits to network order).
    pub(crate) fn be16(&mut self, dst: Reg) {
        self.push(CLASS_ALU | OP_END | TO_BE, dst, Reg(0), 0, 16);
    }

    /// `dst = *(size *)(src + off)`.
    pub(crate) fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.push(CLASS_LDX | MODE_MEM | size.code(), dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = src`.
    pub(crate) fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) {
        self.push(CLASS_STX | MODE_MEM | size.code(), dst, src, off, 0);
    }

    /// `*(size *)(dst + off) = imm`.
    pub(crate) fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) {
        self.push(CLASS_ST | MODE_MEM | size.code(), dst, Reg(0), off, imm);
    }

    /// `if dst cond imm goto label`.
    pub(crate) fn jump_imm(&mut self, cond: Cond, dst: Reg, imm: i32, label: &'static str) {
        self.jumps.push((self.insns.len(), label));
        self.push(CLASS_JMP | cond.code(), dst, Reg(0), 0, imm);
    }

    /// `if dst cond src goto label`.
    pub(crate) fn jump_reg(&mut self, cond: Cond, dst: Reg, src: Reg, label: &'static str) {
        self.jumps.push((self.insns.len(), label));
        self.push(CLASS_JMP | cond.code() | SRC_X, dst, src, 0, 0);
    }

    /// Calls helper number `helper` (arguments in r1–r5, result in r0).
    pub(crate) fn call(&mut self, helper: i32) {
        self.push(CLASS_JMP | OP_CALL, Reg(0), Reg(0), 0, helper);
    }

    /// Returns r0.
    pub(crate) fn exit(&mut self) {
        self.push(CLASS_JMP | OP_EXIT, Reg(0), Reg(0), 0, 0);
    }

    /// `dst = &map` (a 16-byte load the loader fills with the map's descriptor).
    pub(crate) fn load_map(&mut self, dst: Reg, map: &'static str) {
        self.maps.push((self.insns.len(), map));
        self.push(CLASS_LD | MODE_IMM | Size::DW.code(), dst, Reg(0), 0, 0);
        self.push(0, Reg(0), Reg(0), 0, 0);
    }

    /// Resolves the jumps and encodes every instruction.
    pub(crate) fn finish(mut self) -> Result<Assembled, AsmError> {
        for &(at, label) in &self.jumps {
            if at == usize::MAX {
                return Err(AsmError(format!("label {label} placed twice")));
            }
            let target = *self
                .labels
                .get(label)
                .ok_or_else(|| AsmError(format!("label {label} is never placed")))?;
            let delta = i64::try_from(target).unwrap_or(i64::MAX)
                - i64::try_from(at).unwrap_or(i64::MAX)
                - 1;
            self.insns[at].off = i16::try_from(delta)
                .map_err(|_| AsmError(format!("jump to {label} is too far")))?;
        }
        let mut code = Vec::with_capacity(self.insns.len() * 8);
        for i in &self.insns {
            code.push(i.code);
            code.push((i.src << 4) | (i.dst & 0x0f));
            code.extend_from_slice(&i.off.to_le_bytes());
            code.extend_from_slice(&i.imm.to_le_bytes());
        }
        Ok(Assembled {
            code,
            map_refs: self.maps.iter().map(|&(at, m)| (at * 8, m)).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_are_encoded_as_the_kernel_reads_them() {
        let mut a = Asm::default();
        a.mov_imm(R0, -1); // b7 00 0000 ffffffff
        a.load(Size::H, R1, FP, -12); // 69 a1 f4ff 00000000
        a.jump_imm(Cond::Ne, R1, 0x3500, "out"); // 55 01 0100 00350000
        a.load_map(R1, "m"); // 18 01 ... (two slots)
        a.label("out");
        a.be16(R3); // dc 03 0000 10000000
        a.exit(); // 95
        let out = a.finish().expect("assembles");
        assert_eq!(&out.code[..8], &[0xb7, 0x00, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(&out.code[8..16], &[0x69, 0xa1, 0xf4, 0xff, 0, 0, 0, 0]);
        // The jump skips the 16-byte load: 2 slots.
        assert_eq!(&out.code[16..24], &[0x55, 0x01, 2, 0, 0x00, 0x35, 0, 0]);
        assert_eq!(&out.code[24..26], &[0x18, 0x01]);
        assert_eq!(&out.code[40..48], &[0xdc, 0x03, 0, 0, 16, 0, 0, 0]);
        assert_eq!(&out.code[48..49], &[0x95]);
        assert_eq!(out.map_refs, vec![(24, "m")]);
    }

    #[test]
    fn a_label_never_placed_is_an_error() {
        let mut a = Asm::default();
        a.jump_imm(Cond::Eq, R0, 0, "nowhere");
        assert!(a.finish().is_err());
        let mut a = Asm::default();
        a.label("x");
        a.label("x");
        assert!(a.finish().is_err());
    }
}
