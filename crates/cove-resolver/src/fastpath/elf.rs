//! The fast path's program as a relocatable eBPF ELF object (pure), the form
//! the loader (aya) reads: the code in a `classifier` section with one function
//! symbol, the maps as legacy `struct bpf_map_def`s in a `maps` section, one
//! `R_BPF_64_64` relocation per map reference, and the license.

use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

use crate::fastpath::asm::Assembled;

/// The program's function name.
pub(crate) const PROGRAM: &str = "cove_dns_fast_path";

/// A map to define: name, `BPF_MAP_TYPE_*`, key and value sizes, entries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapDef {
    /// Its name (the program refers to it by this name).
    pub(crate) name: &'static str,
    /// `BPF_MAP_TYPE_*`.
    pub(crate) kind: u32,
    /// Bytes of a key.
    pub(crate) key_size: u32,
    /// Bytes of a value.
    pub(crate) value_size: u32,
    /// Entries.
    pub(crate) max_entries: u32,
}

/// Writing the object failed (a map the program names is not defined, or the
/// writer refused).
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// The program refers to a map not given.
    #[error("the program refers to map {0}, which is not defined")]
    UnknownMap(&'static str),
    /// The ELF writer.
    #[error("cannot write the eBPF object")]
    Write(#[source] object::write::Error),
}

/// The ELF object with `program` and `maps`, licensed `license`.
pub(crate) fn object(
    program: &Assembled,
    maps: &[MapDef],
    license: &str,
) -> Result<Vec<u8>, ElfError> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let text = obj.add_section(Vec::new(), b"classifier".to_vec(), SectionKind::Text);
    let offset = obj.append_section_data(text, &program.code, 8);
    obj.add_symbol(Symbol {
        name: PROGRAM.as_bytes().to_vec(),
        value: offset,
        size: program.code.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    let maps_section = obj.add_section(Vec::new(), b"maps".to_vec(), SectionKind::Data);
    let mut symbols = Vec::new();
    for m in maps {
        let mut def = Vec::with_capacity(20);
        for field in [m.kind, m.key_size, m.value_size, m.max_entries, 0] {
            def.extend_from_slice(&field.to_le_bytes());
        }
        let at = obj.append_section_data(maps_section, &def, 4);
        let id = obj.add_symbol(Symbol {
            name: m.name.as_bytes().to_vec(),
            value: at,
            size: def.len() as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Dynamic,
            weak: false,
            section: SymbolSection::Section(maps_section),
            flags: SymbolFlags::None,
        });
        symbols.push((m.name, id));
    }
    for &(at, name) in &program.map_refs {
        let symbol = symbols
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
            .ok_or(ElfError::UnknownMap(name))?;
        obj.add_relocation(
            text,
            Relocation {
                offset: offset + at as u64,
                symbol,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: object::elf::R_BPF_64_64,
                },
            },
        )
        .map_err(ElfError::Write)?;
    }
    let license_section = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    let mut text = license.as_bytes().to_vec();
    text.push(0);
    obj.append_section_data(license_section, &text, 1);
    obj.write().map_err(ElfError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loader_reads_the_program_its_maps_and_relocations() {
        let program = crate::fastpath::program::program(53).expect("assembles");
        let bytes = object(&program, &crate::fastpath::MAPS, "Apache-2.0").expect("writes");
        let parsed = aya_obj::Object::parse(&bytes).expect("aya reads it");
        assert_eq!(parsed.license.to_str().ok(), Some("Apache-2.0"));
        let mut maps: Vec<_> = parsed.maps.keys().cloned().collect();
        maps.sort();
        assert_eq!(maps, ["answers", "counters", "generation"]);
        assert_eq!(parsed.programs.len(), 1);
        assert!(parsed.programs.contains_key(PROGRAM));
        // A map the program names but nobody defines.
        let few = [crate::fastpath::MAPS[0]];
        assert!(matches!(
            object(&program, &few, "x"),
            Err(ElfError::UnknownMap(_))
        ));
    }
}
