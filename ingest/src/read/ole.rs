//! Checks a legacy Excel file (an OLE compound file holding a BIFF
//! `Workbook` stream) before calamine opens it.
//!
//! calamine's XLS reader follows sector chains without looking for loops,
//! reserves memory for the cell range a `DIMENSIONS` record declares, and lays
//! every sheet out as a dense rectangle from its top-left to its bottom-right
//! cell, all sheets at once. A few kilobytes can therefore loop forever or ask
//! for terabytes. This module walks the same structures with bounds and
//! refuses: sector chains that loop or leave the file, a declared range over
//! [`Limits::max_cells`], and sheets whose cells span more than that.

use crate::{Error, Limits, Result};

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
const DIFSECT: u32 = 0xFFFF_FFFC;
const RESERVED: u32 = 0xFFFF_FFFA;

/// Checks the container and the cell extents of every sheet.
pub fn check(file: &str, bytes: &[u8], limits: &Limits) -> Result<()> {
    let stream = workbook_stream(file, bytes)?;
    check_biff(file, &stream, limits)
}

fn corrupt(file: &str, detail: impl Into<String>) -> Error {
    Error::Workbook {
        file: file.to_string(),
        detail: format!("the XLS (OLE) container is corrupt: {}", detail.into()),
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

struct Container<'a> {
    bytes: &'a [u8],
    sector_size: usize,
    /// Sectors present in the file (a trailing partial one counts).
    sectors: usize,
    fat: Vec<u32>,
}

impl Container<'_> {
    fn sector(&self, id: u32) -> Option<&[u8]> {
        let start = (id as usize)
            .checked_add(1)?
            .checked_mul(self.sector_size)?;
        if start >= self.bytes.len() {
            return None;
        }
        Some(&self.bytes[start..(start + self.sector_size).min(self.bytes.len())])
    }

    /// The sector ids of a chain, stopping once `len` bytes are covered (as
    /// calamine does). Refuses loops and ids outside the file or the FAT.
    fn chain(&self, file: &str, start: u32, len: usize, what: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        let mut id = start;
        while id != ENDOFCHAIN {
            if self.sector(id).is_none() || id as usize >= self.fat.len() {
                return Err(corrupt(
                    file,
                    format!("the {what} chain points at sector {id}, outside the file"),
                ));
            }
            ids.push(id);
            if ids.len() > self.sectors {
                return Err(corrupt(file, format!("the {what} chain loops")));
            }
            if ids.len().saturating_mul(self.sector_size) >= len {
                break;
            }
            id = self.fat[id as usize];
        }
        Ok(ids)
    }

    fn read_chain(&self, ids: &[u32], len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            if let Some(s) = self.sector(id) {
                out.extend_from_slice(s);
            }
            if out.len() >= len {
                break;
            }
        }
        out.truncate(len);
        out
    }
}

/// The `Workbook` (or BIFF5 `Book`) stream, read through validated chains.
fn workbook_stream(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let header = bytes
        .get(..512)
        .ok_or_else(|| corrupt(file, "the header is truncated"))?;
    let sector_size = match u16_at(header, 30) {
        Some(9) => 512,
        Some(12) => 4096,
        other => {
            return Err(corrupt(
                file,
                format!("sector shift {other:?} (expected 9 or 12)"),
            ));
        }
    };
    let field = |at| u32_at(header, at).unwrap_or(0);
    let dir_start = field(48);
    let mini_fat_start = field(60);
    let mini_fat_len = field(64) as usize;
    let mut difat_next = field(68);
    let sectors = bytes.len().div_ceil(sector_size).saturating_sub(1);
    let mut container = Container {
        bytes,
        sector_size,
        sectors,
        fat: Vec::new(),
    };

    // DIFAT: 109 ids in the header, then a chain of DIFAT sectors.
    let mut difat: Vec<u32> = header[76..512]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut hops = 0usize;
    while difat_next < RESERVED {
        hops += 1;
        if hops > sectors + 1 {
            return Err(corrupt(file, "the DIFAT chain loops"));
        }
        let s = container.sector(difat_next).ok_or_else(|| {
            corrupt(
                file,
                format!("DIFAT sector {difat_next} is outside the file"),
            )
        })?;
        let mut ids: Vec<u32> = s
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        difat_next = ids.pop().unwrap_or(ENDOFCHAIN);
        difat.extend(ids);
    }
    let mut fat = Vec::new();
    for id in difat.into_iter().filter(|&id| id < DIFSECT) {
        let s = container
            .sector(id)
            .ok_or_else(|| corrupt(file, format!("FAT sector {id} is outside the file")))?;
        fat.extend(
            s.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        if fat.len() > sectors.saturating_mul(2).max(1 << 16) * (sector_size / 4) {
            return Err(corrupt(file, "the FAT is larger than the file"));
        }
    }
    container.fat = fat;

    // Directory: 128-byte entries; the first is the root (mini stream).
    let dir_ids = container.chain(file, dir_start, usize::MAX, "directory")?;
    let dirs = container.read_chain(&dir_ids, usize::MAX);
    struct Entry {
        name: String,
        start: u32,
        len: usize,
    }
    let entries: Vec<Entry> = dirs
        .chunks_exact(128)
        .map(|d| {
            let units: Vec<u16> = d[..64]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            let len = if sector_size == 512 {
                u32_at(d, 120).unwrap_or(0) as u64
            } else {
                d.get(120..128).map_or(0, |s| {
                    u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
                })
            };
            Entry {
                name: String::from_utf16_lossy(&units),
                start: u32_at(d, 116).unwrap_or(ENDOFCHAIN),
                len: usize::try_from(len).unwrap_or(usize::MAX),
            }
        })
        .collect();
    let Some(root) = entries.first() else {
        return Err(corrupt(file, "the directory is empty"));
    };
    let find = |name: &str| entries.iter().find(|e| e.name.eq_ignore_ascii_case(name));
    let Some(book) = find("Workbook").or_else(|| find("Book")) else {
        if find("EncryptedPackage").is_some() {
            return Err(Error::Workbook {
                file: file.to_string(),
                detail: "the workbook is password-protected (encrypted); remove the password and upload it again".into(),
            });
        }
        return Err(Error::UnsupportedFormat {
            file: file.to_string(),
            detail: "an OLE compound file without a Workbook stream (a Word or other Office document?), not an Excel workbook".into(),
        });
    };
    // The mini stream and mini FAT are read whenever the header lists a mini
    // FAT (calamine does so even when the workbook is in regular sectors).
    let mut mini = None;
    if mini_fat_len > 0 {
        let ids = container.chain(file, root.start, root.len, "mini stream")?;
        let stream = container.read_chain(&ids, root.len);
        let fat_len = mini_fat_len.saturating_mul(sector_size);
        let ids = container.chain(file, mini_fat_start, fat_len, "mini FAT")?;
        let fat: Vec<u32> = container
            .read_chain(&ids, fat_len)
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        mini = Some((stream, fat));
    }
    if book.len < 4096 {
        let Some((stream, fat)) = mini else {
            return Err(corrupt(file, "a small Workbook stream but no mini FAT"));
        };
        // Mini sectors are numbered from the start of the mini stream.
        let minis = Container {
            bytes: &stream,
            sector_size: 64,
            sectors: stream.len().div_ceil(64),
            fat,
        };
        let ids = mini_chain(file, &minis, book.start, book.len)?;
        let mut out = Vec::new();
        for id in ids {
            let at = id as usize * 64;
            out.extend_from_slice(&stream[at..(at + 64).min(stream.len())]);
        }
        out.truncate(book.len);
        return Ok(out);
    }
    let ids = container.chain(file, book.start, book.len, "Workbook stream")?;
    Ok(container.read_chain(&ids, book.len))
}

/// A chain in the mini stream (64-byte sectors counted from its start).
fn mini_chain(file: &str, c: &Container, start: u32, len: usize) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut id = start;
    while id != ENDOFCHAIN {
        if id as usize * 64 >= c.bytes.len() || id as usize >= c.fat.len() {
            return Err(corrupt(
                file,
                format!(
                    "the Workbook mini chain points at mini sector {id}, outside the mini stream"
                ),
            ));
        }
        ids.push(id);
        if ids.len() > c.sectors {
            return Err(corrupt(file, "the Workbook mini chain loops"));
        }
        if ids.len() * 64 >= len {
            break;
        }
        id = c.fat[id as usize];
    }
    Ok(ids)
}

/// One BIFF record: type and data.
fn records(stream: &[u8], from: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = from;
    std::iter::from_fn(move || {
        let typ = u16_at(stream, pos)?;
        let len = u16_at(stream, pos + 2)? as usize;
        let data = stream.get(pos + 4..pos + 4 + len)?;
        pos += 4 + len;
        Some((typ, data))
    })
}

#[derive(Default)]
struct Extent {
    rows: Option<(u32, u32)>,
    cols: Option<(u32, u32)>,
}

impl Extent {
    fn add(&mut self, row: u32, col: u32) {
        self.rows = Some(
            self.rows
                .map_or((row, row), |(a, b)| (a.min(row), b.max(row))),
        );
        self.cols = Some(
            self.cols
                .map_or((col, col), |(a, b)| (a.min(col), b.max(col))),
        );
    }

    fn cells(&self) -> u64 {
        match (self.rows, self.cols) {
            (Some((r0, r1)), Some((c0, c1))) => {
                (u64::from(r1 - r0) + 1).saturating_mul(u64::from(c1 - c0) + 1)
            }
            _ => 0,
        }
    }
}

/// Walks the globals substream for sheets, then each sheet's cell records as
/// calamine does, adding up the dense ranges it would build.
fn check_biff(file: &str, stream: &[u8], limits: &Limits) -> Result<()> {
    let mut sheets: Vec<(usize, String)> = Vec::new();
    for (typ, data) in records(stream, 0) {
        match typ {
            0x0085 if data.len() >= 8 => {
                let pos = u32_at(data, 0).unwrap_or(0) as usize;
                let cch = data[6] as usize;
                let wide = data[7] & 1 == 1;
                let raw = &data[8..];
                let name = if wide {
                    let units: Vec<u16> = raw
                        .chunks_exact(2)
                        .take(cch)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    String::from_utf16_lossy(&units)
                } else {
                    raw.iter().take(cch).map(|&b| char::from(b)).collect()
                };
                sheets.push((pos, name));
            }
            0x000A => break,
            _ => {}
        }
    }
    if sheets.len() > limits.max_sheets {
        return Err(Error::WorkbookTooLarge {
            file: file.to_string(),
            sheet: None,
            detail: format!(
                "{} sheets, more than the limit of {}",
                sheets.len(),
                limits.max_sheets
            ),
        });
    }
    let limit = limits.dense_cells() as u64;
    let mut total: u64 = 0;
    for (pos, name) in sheets {
        if pos >= stream.len() {
            continue; // calamine refuses it
        }
        let too_large = |detail: String| Error::WorkbookTooLarge {
            file: file.to_string(),
            sheet: Some(name.clone()),
            detail: format!("sheet {name:?}: {detail}"),
        };
        let mut values = Extent::default();
        let mut formulas = Extent::default();
        let mut depth = 0usize;
        let mut seen_bof = false;
        for (typ, data) in records(stream, pos) {
            if depth > 0 {
                match typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let row = u16_at(data, 0).map(u32::from);
            let col = u16_at(data, 2).map(u32::from);
            match typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x000A => break,
                0x0200 => {
                    let (rf, rl, cf, cl) = match data.len() {
                        10 => (
                            u32::from(u16_at(data, 0).unwrap_or(0)),
                            u32::from(u16_at(data, 2).unwrap_or(0)),
                            u32::from(u16_at(data, 4).unwrap_or(0)),
                            u32::from(u16_at(data, 6).unwrap_or(0)),
                        ),
                        14 | 16 => (
                            u32_at(data, 0).unwrap_or(0),
                            u32_at(data, 4).unwrap_or(0),
                            u32::from(u16_at(data, 8).unwrap_or(0)),
                            u32::from(u16_at(data, 10).unwrap_or(0)),
                        ),
                        _ => continue, // calamine refuses the record
                    };
                    let cf = if cf > 0xFF || cl < cf { 0 } else { cf };
                    if rl >= 1 && cl >= 1 {
                        if rl - 1 < rf || cl - 1 < cf {
                            return Err(too_large(format!(
                                "its DIMENSIONS record declares an impossible range (rows {rf}..{rl}, columns {cf}..{cl})"
                            )));
                        }
                        let declared = u64::from(rl - rf).saturating_mul(u64::from(cl - cf));
                        if declared > limit {
                            return Err(too_large(format!(
                                "its DIMENSIONS record declares {} rows × {} columns = {declared} cells, more than the limit of {limit}",
                                rl - rf,
                                cl - cf
                            )));
                        }
                    }
                }
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD => {
                    if let (Some(r), Some(c)) = (row, col) {
                        values.add(r, c);
                    }
                }
                0x00BD => {
                    if let (Some(r), Some(c), Some(last)) =
                        (row, col, u16_at(data, data.len().saturating_sub(2)))
                    {
                        values.add(r, c);
                        values.add(r, u32::from(last).max(c));
                    }
                }
                0x0006 => {
                    if let (Some(r), Some(c)) = (row, col) {
                        values.add(r, c);
                        formulas.add(r, c);
                    }
                }
                _ => {}
            }
        }
        let cells = values.cells().saturating_add(formulas.cells());
        total = total.saturating_add(cells);
        if total > limit {
            let (r0, r1) = values.rows.unwrap_or((0, 0));
            let (c0, c1) = values.cols.unwrap_or((0, 0));
            return Err(too_large(format!(
                "its cells span rows {}–{} and columns {}–{}: {} cells once laid out (the workbook so far: {total}), more than the limit of {limit}",
                r0 + 1,
                r1 + 1,
                crate::report::column_letter(c0 as usize),
                crate::report::column_letter(c1 as usize),
                values.cells()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    /// A BIFF8 workbook stream: one sheet holding `cells` (row, col, value)
    /// and, if given, a DIMENSIONS record (first row, last row + 1, first
    /// column, last column + 1).
    pub(crate) fn biff(cells: &[(u16, u16, f64)], dims: Option<(u32, u32, u16, u16)>) -> Vec<u8> {
        let bof = |dt: u16| {
            let mut d = vec![0x00, 0x06];
            d.extend(dt.to_le_bytes());
            d.extend([0u8; 12]);
            record(0x0809, &d)
        };
        let mut globals = bof(0x0005);
        globals.extend(record(0x0042, &1200u16.to_le_bytes()));
        let name = b"Sheet1";
        let boundsheet_at = globals.len();
        let mut bs = vec![0u8; 4];
        bs.extend([0, 0, name.len() as u8, 0]);
        bs.extend_from_slice(name);
        globals.extend(record(0x0085, &bs));
        globals.extend(record(0x000A, &[]));
        let sheet_pos = globals.len() as u32;
        globals[boundsheet_at + 4..boundsheet_at + 8].copy_from_slice(&sheet_pos.to_le_bytes());
        let mut sheet = bof(0x0010);
        if let Some((rf, rl, cf, cl)) = dims {
            let mut d = rf.to_le_bytes().to_vec();
            d.extend(rl.to_le_bytes());
            d.extend(cf.to_le_bytes());
            d.extend(cl.to_le_bytes());
            d.extend([0, 0]);
            sheet.extend(record(0x0200, &d));
        }
        for &(r, c, v) in cells {
            let mut d = r.to_le_bytes().to_vec();
            d.extend(c.to_le_bytes());
            d.extend(0u16.to_le_bytes());
            d.extend(v.to_le_bytes());
            sheet.extend(record(0x0203, &d));
        }
        sheet.extend(record(0x000A, &[]));
        globals.extend(sheet);
        globals
    }

    /// An OLE compound file (512-byte sectors) holding one `Workbook` stream,
    /// padded to at least 4096 bytes so it lives in regular sectors.
    /// `loop_directory` makes the directory chain point at itself.
    pub(crate) fn cfb(mut stream: Vec<u8>, loop_directory: bool) -> Vec<u8> {
        let len = stream.len().max(4096);
        stream.resize(len.div_ceil(512) * 512, 0);
        let data_sectors = stream.len() / 512;
        // Sector 0: FAT; sector 1: directory; 2..: the stream.
        let mut fat = vec![0xFFFF_FFFDu32, if loop_directory { 1 } else { ENDOFCHAIN }];
        for i in 0..data_sectors {
            let id = 2 + i as u32;
            fat.push(if i + 1 == data_sectors {
                ENDOFCHAIN
            } else {
                id + 1
            });
        }
        fat.resize(128, 0xFFFF_FFFF);
        let mut header = vec![0u8; 512];
        header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        header[24..26].copy_from_slice(&0x3Eu16.to_le_bytes());
        header[26..28].copy_from_slice(&3u16.to_le_bytes());
        header[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
        header[30..32].copy_from_slice(&9u16.to_le_bytes());
        header[32..34].copy_from_slice(&6u16.to_le_bytes());
        header[44..48].copy_from_slice(&1u32.to_le_bytes());
        header[48..52].copy_from_slice(&1u32.to_le_bytes());
        header[56..60].copy_from_slice(&4096u32.to_le_bytes());
        header[60..64].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        header[68..72].copy_from_slice(&ENDOFCHAIN.to_le_bytes());
        for (i, chunk) in header[76..512].chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&(if i == 0 { 0u32 } else { 0xFFFF_FFFF }).to_le_bytes());
        }
        let entry = |name: &str, typ: u8, start: u32, size: u32| {
            let mut e = vec![0u8; 128];
            let units: Vec<u16> = name.encode_utf16().chain([0]).collect();
            for (i, u) in units.iter().enumerate() {
                e[i * 2..i * 2 + 2].copy_from_slice(&u.to_le_bytes());
            }
            e[64..66].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
            e[66] = typ;
            e[68..72].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
            e[72..76].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
            e[76..80].copy_from_slice(&(if typ == 5 { 1u32 } else { 0xFFFF_FFFF }).to_le_bytes());
            e[116..120].copy_from_slice(&start.to_le_bytes());
            e[120..124].copy_from_slice(&size.to_le_bytes());
            e
        };
        let mut dir = entry("Root Entry", 5, ENDOFCHAIN, 0);
        dir.extend(entry("Workbook", 2, 2, stream.len() as u32));
        dir.resize(512, 0);
        let mut out = header;
        for id in &fat {
            out.extend(id.to_le_bytes());
        }
        out.extend(dir);
        out.extend(stream);
        out
    }

    fn limits() -> Limits {
        Limits {
            max_cells: 1_000_000,
            ..Limits::default()
        }
    }

    #[test]
    fn a_small_honest_workbook_passes_and_calamine_reads_it() {
        let bytes = cfb(biff(&[(0, 0, 1.0), (1, 1, 2.0)], Some((0, 2, 0, 2))), false);
        check("ok.xls", &bytes, &limits()).unwrap();
        use calamine::Reader;
        let mut wb = calamine::Xls::new(std::io::Cursor::new(bytes)).unwrap();
        let range = wb.worksheet_range("Sheet1").unwrap();
        assert_eq!(range.get_size(), (2, 2));
    }

    #[test]
    fn corner_cells_and_lying_dimensions_are_refused() {
        let corners = cfb(biff(&[(0, 0, 1.0), (65535, 65535, 2.0)], None), false);
        let e = check("corners.xls", &corners, &limits()).unwrap_err();
        assert!(matches!(e, Error::WorkbookTooLarge { .. }), "{e}");
        assert!(e.to_string().contains("Sheet1"), "{e}");

        let lie = cfb(biff(&[(0, 0, 1.0)], Some((0, u32::MAX, 0, 0xFFFF))), false);
        let e = check("lie.xls", &lie, &limits()).unwrap_err();
        assert!(e.to_string().contains("DIMENSIONS"), "{e}");

        let inverted = cfb(biff(&[(0, 0, 1.0)], Some((100, 50, 0, 2))), false);
        let e = check("inverted.xls", &inverted, &limits()).unwrap_err();
        assert!(e.to_string().contains("impossible"), "{e}");
    }

    #[test]
    fn looping_and_truncated_containers_are_refused() {
        let looped = cfb(biff(&[(0, 0, 1.0)], None), true);
        let e = check("loop.xls", &looped, &limits()).unwrap_err();
        assert!(e.to_string().contains("loops"), "{e}");

        let whole = cfb(biff(&[(0, 0, 1.0)], None), false);
        let e = check("cut.xls", &whole[..1000], &limits()).unwrap_err();
        assert!(matches!(e, Error::Workbook { .. }), "{e}");
        let e = check("tiny.xls", &whole[..100], &limits()).unwrap_err();
        assert!(e.to_string().contains("header"), "{e}");
    }
}
