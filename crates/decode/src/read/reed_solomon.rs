//! Reed-Solomon error correction of one QR block: GF(256) over x^8 + x^4 + x^3 + x^2 + 1,
//! the generator's roots starting at a^0 (ISO/IEC 18004 section 7.5.2).
//!
//! rxing's decoder does the same decoding, but its field arithmetic reduces every product
//! modulo the field size at run time and each polynomial operation compares its two operands'
//! fields, 16 KiB of tables apiece; with a corrupt grid to reject for nearly every finder
//! pattern a photo shows, that was a tenth of a scan's time. This one works on fixed tables
//! and bytes, and rejects a block with any wrong codeword from its syndromes alone when the
//! errors are more than it can correct.
//!
//! The decoding is bounded-distance, like rxing's: it corrects a block only to the one codeword
//! within half the number of error-correction codewords of what was read, and otherwise fails.
//! (Berlekamp-Massey here, Euclid's algorithm in rxing: both find that codeword when it exists,
//! so they agree on every block the tests give both, with one exception: rxing can "correct" a
//! block with an odd number of error-correction codewords into one that is not a codeword,
//! where this decoder checks its result and refuses.)

/// The error-correction codewords of one block that fit the syndrome buffers: a QR Model 2
/// block has at most 30, a Model 1 block (`model_1`) at most 66.
const MAX_EC_CODEWORDS: usize = 66;

/// Powers and logarithms of the field's generator a = 2. `EXP` is doubled so that a product's
/// logarithm, a sum of two below 255, indexes it without reduction.
struct Tables {
    exp: [u8; 512],
    log: [u8; 256],
}

const TABLES: Tables = {
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut value: u16 = 1;
    let mut power = 0;
    while power < 255 {
        exp[power] = value as u8;
        exp[power + 255] = value as u8;
        log[value as usize] = power as u8;
        value <<= 1;
        if value & 0x100 != 0 {
            value ^= 0x11d;
        }
        power += 1;
    }
    Tables { exp, log }
};

fn multiply(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        return 0;
    }
    TABLES.exp[TABLES.log[a as usize] as usize + TABLES.log[b as usize] as usize]
}

/// a^power for any power; negative ones are inverses.
fn power_of_alpha(power: isize) -> u8 {
    TABLES.exp[power.rem_euclid(255) as usize]
}

fn inverse(a: u8) -> u8 {
    debug_assert_ne!(a, 0);
    TABLES.exp[255 - TABLES.log[a as usize] as usize]
}

/// Evaluates the polynomial with `coefficients` in ascending powers at `x`.
fn evaluate_ascending(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0, |sum, &coefficient| multiply(sum, x) ^ coefficient)
}

/// The received block's syndromes r(a^i), i < `syndromes.len()`; the block's first byte is the
/// highest power. All zero when the block is a codeword.
fn syndromes(block: &[u8], syndromes: &mut [u8]) {
    for (i, syndrome) in syndromes.iter_mut().enumerate() {
        // Horner's rule with the multiplication by a^i as an addition of logarithms.
        *syndrome = block.iter().fold(0u8, |sum, &codeword| {
            let shifted = if sum == 0 {
                0
            } else {
                TABLES.exp[TABLES.log[sum as usize] as usize + i]
            };
            shifted ^ codeword
        });
    }
}

/// The block had more wrong codewords than its error correction can repair.
#[derive(Debug, PartialEq, Eq)]
pub struct Uncorrectable;

/// Corrects `block` (data codewords, then `ec_codewords` error-correction codewords) in place;
/// returns how many codewords were wrong.
pub fn correct(block: &mut [u8], ec_codewords: usize) -> Result<usize, Uncorrectable> {
    let length = block.len();
    if ec_codewords == 0 || ec_codewords > MAX_EC_CODEWORDS || length > 255 || ec_codewords > length
    {
        return Err(Uncorrectable);
    }
    let mut syndrome_buffer = [0u8; MAX_EC_CODEWORDS];
    let syndrome = &mut syndrome_buffer[..ec_codewords];
    syndromes(block, syndrome);
    if syndrome.iter().all(|&s| s == 0) {
        return Ok(0);
    }

    // Berlekamp-Massey: the shortest error locator sigma (ascending, sigma[0] = 1) that
    // generates the syndromes.
    let mut sigma = [0u8; MAX_EC_CODEWORDS + 1];
    let mut previous = [0u8; MAX_EC_CODEWORDS + 1];
    sigma[0] = 1;
    previous[0] = 1;
    let mut errors = 0usize;
    let mut shift = 1usize;
    let mut previous_discrepancy = 1u8;
    for n in 0..ec_codewords {
        let discrepancy =
            (1..=errors).fold(syndrome[n], |d, i| d ^ multiply(sigma[i], syndrome[n - i]));
        if discrepancy == 0 {
            shift += 1;
            continue;
        }
        let scale = multiply(discrepancy, inverse(previous_discrepancy));
        let before = sigma;
        for i in shift..=ec_codewords {
            sigma[i] ^= multiply(scale, previous[i - shift]);
        }
        if 2 * errors <= n {
            errors = n + 1 - errors;
            previous = before;
            previous_discrepancy = discrepancy;
            shift = 1;
        } else {
            shift += 1;
        }
    }
    if errors == 0 || 2 * errors > ec_codewords {
        return Err(Uncorrectable);
    }
    let sigma = &sigma[..=errors];

    // Chien's search: the error at the codeword `length - 1 - p` has locator X = a^p, a root of
    // sigma at X^-1. A shortened block has no positions beyond its length.
    let mut locations = [0usize; MAX_EC_CODEWORDS];
    let mut found = 0;
    for p in 0..length {
        if evaluate_ascending(sigma, power_of_alpha(-(p as isize))) == 0 {
            if found == errors {
                return Err(Uncorrectable);
            }
            locations[found] = p;
            found += 1;
        }
    }
    if found != errors {
        return Err(Uncorrectable);
    }

    // Forney: omega = S * sigma mod x^ec, and with the roots from a^0 the magnitude at X is
    // X * omega(X^-1) / sigma'(X^-1) (characteristic 2: no signs; sigma' keeps odd terms).
    let mut omega = [0u8; MAX_EC_CODEWORDS];
    for (i, term) in omega.iter_mut().enumerate().take(ec_codewords) {
        *term = (0..=i.min(errors)).fold(0, |sum, k| sum ^ multiply(sigma[k], syndrome[i - k]));
    }
    let mut derivative = [0u8; MAX_EC_CODEWORDS];
    for k in (1..=errors).step_by(2) {
        derivative[k - 1] = sigma[k];
    }
    for &p in &locations[..found] {
        let x = power_of_alpha(p as isize);
        let x_inverse = inverse(x);
        let denominator = evaluate_ascending(&derivative[..errors], x_inverse);
        if denominator == 0 {
            return Err(Uncorrectable);
        }
        let magnitude = multiply(
            x,
            multiply(
                evaluate_ascending(&omega[..ec_codewords], x_inverse),
                inverse(denominator),
            ),
        );
        block[length - 1 - p] ^= magnitude;
    }

    // The corrected block must be a codeword; by the argument above it always is, and this
    // check keeps a slip in that argument from ever reaching the text.
    syndromes(block, syndrome);
    if syndrome.iter().any(|&s| s != 0) {
        return Err(Uncorrectable);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Xorshift;
    use rxing::common::reedsolomon::{
        GenericGFRef, PredefinedGenericGF, ReedSolomonDecoder, ReedSolomonEncoder,
    };

    fn field() -> GenericGFRef {
        PredefinedGenericGF::QrCodeField256.into()
    }

    fn codeword(data: &[u8], ec: usize) -> Vec<u8> {
        let mut words: Vec<i32> = data.iter().map(|&b| i32::from(b)).collect();
        words.resize(data.len() + ec, 0);
        ReedSolomonEncoder::new(field())
            .unwrap()
            .encode(&mut words, ec)
            .unwrap();
        words.iter().map(|&w| w as u8).collect()
    }

    /// Block shapes QR uses (data, ec): short and long blocks of low and high versions.
    const SHAPES: [(usize, usize); 8] = [
        (19, 7),
        (9, 17),
        (16, 10),
        (13, 22),
        (43, 26),
        (15, 30),
        (118, 30),
        (122, 30),
    ];

    #[test]
    fn the_field_tables_are_the_qr_field() {
        assert_eq!(power_of_alpha(8), 0x1d, "a^8 = x^4 + x^3 + x^2 + 1");
        for a in 1..=255u8 {
            assert_eq!(multiply(a, inverse(a)), 1);
            assert_eq!(multiply(a, 1), a);
        }
        let f = field();
        for a in 0..=255u8 {
            for b in [0u8, 1, 2, 3, 0x53, 0xca, 0xff] {
                assert_eq!(
                    i32::from(multiply(a, b)),
                    f.multiply(i32::from(a), i32::from(b))
                );
            }
        }
    }

    #[test]
    fn corrects_up_to_half_the_ec_codewords_and_no_more() {
        let mut rng = Xorshift(7);
        for &(data_len, ec) in &SHAPES {
            let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
            let clean = codeword(&data, ec);
            let mut block = clean.clone();
            assert_eq!(correct(&mut block, ec), Ok(0));
            for wrong in 1..=ec / 2 {
                let mut block = clean.clone();
                let mut positions: Vec<usize> = (0..block.len()).collect();
                for k in 0..wrong {
                    let at = k + rng.below(positions.len() - k);
                    positions.swap(k, at);
                    block[positions[k]] ^= 1 + rng.below(255) as u8;
                }
                assert_eq!(
                    correct(&mut block, ec),
                    Ok(wrong),
                    "{data_len}+{ec}, {wrong} wrong"
                );
                assert_eq!(block, clean);
            }
        }
    }

    /// The decision on every block, corrected or not, and the corrected bytes, are rxing's:
    /// clean codewords, codewords with up to twice the correctable errors, and noise.
    #[test]
    fn agrees_with_rxing_on_every_block() {
        let decoder = ReedSolomonDecoder::new(field());
        let mut rng = Xorshift(11);
        let (mut corrected, mut failed) = (0, 0);
        for trial in 0..3000 {
            let (data_len, ec) = SHAPES[trial % SHAPES.len()];
            let mut block = if trial % 7 == 6 {
                (0..data_len + ec).map(|_| rng.next() as u8).collect()
            } else {
                let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
                let mut block = codeword(&data, ec);
                for _ in 0..rng.below(ec + 2) {
                    let at = rng.below(block.len());
                    block[at] ^= 1 + rng.below(255) as u8;
                }
                block
            };
            let mut theirs = block.clone();
            let rxing_result = decoder.decode(&mut theirs, ec as i32);
            let ours = correct(&mut block, ec);
            match (ours, rxing_result) {
                (Ok(n), Ok(m)) => {
                    assert_eq!(n, m, "trial {trial}");
                    assert_eq!(block, theirs, "trial {trial}");
                    corrected += 1;
                }
                (Err(Uncorrectable), Err(_)) => failed += 1,
                (ours, theirs) => panic!("trial {trial}: ours {ours:?}, rxing {theirs:?}"),
            }
        }
        // Both outcomes are exercised, not only one.
        assert!(
            corrected > 1000 && failed > 500,
            "{corrected} corrected, {failed} failed"
        );
    }

    /// A version 1-L block (7 error-correction codewords, so 3 correctable) sampled from a
    /// photo, with more than 3 wrong. rxing "corrects" 3 codewords into a block that still fails
    /// the first syndrome (its Euclid stops on 6 of the 7); this decoder refuses it.
    #[test]
    fn an_odd_number_of_ec_codewords_is_not_a_licence_to_miscorrect() {
        let read = [
            126, 129, 55, 150, 97, 24, 196, 134, 63, 95, 84, 244, 195, 204, 187, 103, 39, 118, 101,
            122, 81, 15, 233, 142, 57, 21,
        ];
        let mut block = read;
        assert_eq!(correct(&mut block, 7), Err(Uncorrectable));
        let mut theirs = read;
        assert_eq!(
            ReedSolomonDecoder::new(field()).decode(&mut theirs, 7),
            Ok(3)
        );
        let mut check = [0u8; 7];
        syndromes(&theirs, &mut check);
        assert_ne!(check[0], 0, "rxing's output is not a codeword");
        assert_eq!(check[1..], [0; 6]);
    }

    #[test]
    fn refuses_shapes_no_qr_block_has() {
        assert_eq!(correct(&mut [0u8; 10], 0), Err(Uncorrectable));
        assert_eq!(correct(&mut [1u8; 10], 11), Err(Uncorrectable));
        assert_eq!(correct(&mut vec![1u8; 300], 30), Err(Uncorrectable));
    }
}
