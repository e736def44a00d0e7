//! Bloom filters of text columns, built where the cache holds them.
//!
//! arrow-rs inserts every value into its row group's filter while it encodes
//! the value. A filter sized for a row group of mostly distinct values (the
//! project codes: 1 MiB) is as large as a core's L2 cache, so nearly every
//! insert waits for memory. Here a large filter's value hashes are sorted
//! into bands of the filter as the values come, and inserted band by band
//! when the row group closes: each band (16 KiB) stays in the L1 cache while
//! it is filled. The filter written is bit for bit the one arrow-rs would
//! write for the same values (same hash, blocks, bits and fold; tested
//! against it).

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::bloom_filter::Sbbf;
use twox_hash::XxHash64;

/// The false positive probability a row group's filter is folded down to
/// (arrow-rs's default, which the filters were made with before).
pub(crate) const FPP: f64 = parquet::file::properties::DEFAULT_BLOOM_FILTER_FPP;

/// Blocks (32 bytes each) of one band: 16 KiB.
const BAND_BLOCKS: usize = 512;

/// A filter up to this many blocks (256 KiB) is filled as the values come:
/// it stays in the L2 cache.
const DIRECT_BLOCKS: usize = 8192;

/// The Parquet split-block filter's salts (the format's specification).
const SALT: [u32; 8] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// One row group's bloom filter of one column, as it is filled.
pub(crate) struct FilterBuilder {
    /// The filter's 256-bit blocks, eight words each.
    blocks: Vec<[u32; 8]>,
    /// Hashes not inserted yet, by band of the filter (none for a filter
    /// filled directly).
    bands: Vec<Vec<u64>>,
}

impl FilterBuilder {
    /// An empty filter sized as arrow-rs sizes one for `ndv` distinct values
    /// at [`FPP`], for a row group of about `rows` values (room for their
    /// hashes is set aside once, an eighth more than an even share per band).
    pub(crate) fn new(ndv: u64, rows: usize) -> crate::Result<Self> {
        let size = Sbbf::new_with_ndv_fpp(ndv, FPP)?.num_blocks();
        let bands = if size > DIRECT_BLOCKS {
            size.div_ceil(BAND_BLOCKS)
        } else {
            0
        };
        let share = rows / bands.max(1);
        Ok(FilterBuilder {
            blocks: vec![[0; 8]; size],
            bands: (0..bands)
                .map(|_| Vec::with_capacity(share + share / 8))
                .collect(),
        })
    }

    /// Adds the values of a text column (nulls are not values); other
    /// columns add nothing.
    pub(crate) fn add(&mut self, column: &dyn Array) {
        match column.data_type() {
            DataType::Utf8 => self.add_all(column.as_string::<i32>().iter().flatten()),
            DataType::LargeUtf8 => self.add_all(column.as_string::<i64>().iter().flatten()),
            DataType::Utf8View => self.add_all(column.as_string_view().iter().flatten()),
            _ => {}
        }
    }

    fn add_all<'a>(&mut self, values: impl Iterator<Item = &'a str>) {
        let blocks = self.blocks.len() as u64;
        if self.bands.is_empty() {
            for value in values {
                insert(&mut self.blocks, hash(value));
            }
        } else {
            for value in values {
                let h = hash(value);
                let band = block_index(h, blocks) / BAND_BLOCKS;
                if let Some(band) = self.bands.get_mut(band) {
                    band.push(h);
                }
            }
        }
    }

    /// The filter of every value added, folded down as far as [`FPP`]
    /// allows.
    pub(crate) fn finish(mut self) -> Sbbf {
        for band in &self.bands {
            for &h in band {
                insert(&mut self.blocks, h);
            }
        }
        let bytes: Vec<u8> = self
            .blocks
            .iter()
            .flat_map(|block| block.iter().flat_map(|word| word.to_le_bytes()))
            .collect();
        self.blocks = Vec::new();
        let mut filter = Sbbf::new(&bytes);
        filter.fold_to_target_fpp(FPP);
        filter
    }
}

/// The format's hash of a value: xxHash64 of its bytes, seed 0.
fn hash(value: &str) -> u64 {
    XxHash64::oneshot(0, value.as_bytes())
}

/// The block a hash falls in: its upper 32 bits scaled to the block count.
fn block_index(hash: u64, blocks: u64) -> usize {
    (((hash >> 32) * blocks) >> 32) as usize
}

/// Sets the hash's eight bits (one per word) in its block.
fn insert(blocks: &mut [[u32; 8]], hash: u64) {
    let i = block_index(hash, blocks.len() as u64);
    if let Some(block) = blocks.get_mut(i) {
        let x = hash as u32;
        for (word, salt) in block.iter_mut().zip(SALT) {
            *word |= 1 << (x.wrapping_mul(salt) >> 27);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    /// The filter arrow-rs itself builds for `values`, as its writer does.
    fn by_arrow(ndv: u64, values: &[Option<String>]) -> Vec<u8> {
        let mut filter = Sbbf::new_with_ndv_fpp(ndv, FPP).unwrap();
        for v in values.iter().flatten() {
            filter.insert(v.as_str());
        }
        filter.fold_to_target_fpp(FPP);
        let mut out = Vec::new();
        filter.write_bitset(&mut out).unwrap();
        out
    }

    fn ours(ndv: u64, batches: &[&[Option<String>]]) -> Vec<u8> {
        let mut builder = FilterBuilder::new(ndv, 100_000).unwrap();
        for batch in batches {
            builder.add(&StringArray::from(batch.to_vec()));
        }
        let mut out = Vec::new();
        builder.finish().write_bitset(&mut out).unwrap();
        out
    }

    #[test]
    fn filters_are_bit_for_bit_those_arrow_rs_builds() {
        // Codes (all distinct), a few repeated names, nulls; filled
        // directly (small filters) and by bands (large ones), folded a
        // little or a lot.
        let codes: Vec<Option<String>> = (0..300_000)
            .map(|i| (i % 17 != 0).then(|| format!("ZFCG-{i:08}")))
            .collect();
        let names: Vec<Option<String>> = (0..50_000)
            .map(|i| Some(format!("供应商{}有限公司", i % 5000)))
            .collect();
        for (ndv, values) in [
            (1u64 << 20, &codes),
            (1 << 16, &codes),
            (1 << 20, &names),
            (1 << 16, &names),
            (1000, &names),
        ] {
            let (a, b) = values.split_at(values.len() / 3);
            let expected = by_arrow(ndv, values);
            assert_eq!(ours(ndv, &[a, b]), expected, "ndv {ndv}");
        }
        // No value at all.
        assert_eq!(ours(1 << 20, &[]), by_arrow(1 << 20, &[]));
    }

    #[test]
    fn a_filter_finds_every_value_added() {
        let values: Vec<Option<String>> =
            (0..200_000).map(|i| Some(format!("ZFCG-{i:08}"))).collect();
        let mut builder = FilterBuilder::new(1 << 20, 200_000).unwrap();
        builder.add(&StringArray::from(values.clone()));
        let filter = builder.finish();
        assert!(values.iter().flatten().all(|v| filter.check(v.as_str())));
        let absent = (0..10_000)
            .filter(|i| filter.check(format!("ZFCG-X{i:07}").as_str()))
            .count();
        assert!(absent < 1000, "{absent} false positives in 10 000");
    }
}
