//! The QR Code layout facts the search relies on (ISO/IEC 18004), in one place: sizes, where the
//! finder, timing and alignment patterns sit. Module coordinates count from the symbol's
//! top-left corner; a module's centre is at `n + 0.5`.

/// Modules a side of a version 1 symbol, the smallest QR Code.
pub const MIN_SIDE: u32 = 21;
/// Modules a side of a version 40 symbol, the largest.
pub const MAX_SIDE: u32 = 177;
/// Modules a finder pattern spans (1:1:3:1:1).
pub const FINDER_MODULES: u32 = 7;
/// The centre of the top-left finder pattern, in modules from each edge.
pub const FINDER_CENTRE: f32 = 3.5;
/// The row (and column) of the timing patterns.
pub const TIMING_LINE: u32 = 6;
/// Versions up to this one have no version information, and at most one alignment pattern.
pub const LAST_VERSION_WITHOUT_VERSION_INFO: u8 = 6;

/// Modules a side of a symbol of `version` (1-40).
pub const fn side_of(version: u32) -> u32 {
    17 + 4 * version
}

/// The version of a symbol of `side` modules, if a QR Code can have that side.
pub fn version_of(side: u32) -> Option<u8> {
    if !(MIN_SIDE..=MAX_SIDE).contains(&side) || !(side - 17).is_multiple_of(4) {
        return None;
    }
    u8::try_from((side - 17) / 4).ok()
}

/// The centre of the alignment pattern nearest the bottom-right corner, in modules from the
/// top-left (both coordinates), for versions 2 and up.
pub const fn last_alignment_centre(side: u32) -> u32 {
    side - 7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_and_versions_agree_from_1_to_40_and_nothing_else_is_a_side() {
        for version in 1..=40 {
            assert_eq!(version_of(side_of(version)), Some(version as u8));
        }
        assert_eq!(side_of(1), MIN_SIDE);
        assert_eq!(side_of(40), MAX_SIDE);
        for side in [0, 17, 20, 22, 23, 24, 181] {
            assert_eq!(version_of(side), None, "{side}");
        }
    }
}
