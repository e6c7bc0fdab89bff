//! Small real datasets: a validating CSV loader (`features…, label` per line) and the
//! embedded digits set (UCI, 1,797 8×8 images; see `data/README.md` for attribution).

use std::fmt;

/// The digits CSV, embedded so `cargo run` needs no files at run time.
const DIGITS_CSV: &str = include_str!("../data/digits.csv");

/// A labelled dataset: row-major features (`len × n_features`) and integer labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Row-major features, `len() * n_features` values.
    pub features: Vec<f32>,
    /// One class label per row, each `< n_classes`.
    pub labels: Vec<usize>,
    /// Values per row.
    pub n_features: usize,
    /// Number of classes (`max label + 1`, or fixed by the format).
    pub n_classes: usize,
}

/// What a CSV file must look like.
#[derive(Clone, Copy, Debug, Default)]
pub struct CsvFormat {
    /// Exact number of features per row; `None`: taken from the first row.
    pub n_features: Option<usize>,
    /// Inclusive range every feature must lie in; `None`: any finite value.
    pub value_range: Option<(f32, f32)>,
    /// Number of classes (labels must be `< n_classes`); `None`: `max label + 1`, at most 1000.
    pub n_classes: Option<usize>,
}

/// Why a dataset could not be loaded; every variant names the line (1-based) where it can.
#[derive(Clone, Debug, PartialEq)]
pub enum DataError {
    /// The file could not be read.
    Io { path: String, message: String },
    /// No data rows.
    Empty,
    /// A row with the wrong number of fields.
    Width {
        line: usize,
        got: usize,
        expected: usize,
    },
    /// A field that is not a finite number.
    NotANumber {
        line: usize,
        column: usize,
        value: String,
    },
    /// A feature outside the accepted range.
    OutOfRange {
        line: usize,
        column: usize,
        value: f32,
        lo: f32,
        hi: f32,
    },
    /// A label that is not a class index.
    BadLabel {
        line: usize,
        value: String,
        accepted: String,
    },
    /// An invalid split request.
    BadSplit { test_fraction: f64 },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            DataError::Empty => write!(
                f,
                "the dataset has no rows; expected lines of `features…, label`"
            ),
            DataError::Width {
                line,
                got,
                expected,
            } => write!(
                f,
                "line {line}: {got} fields, expected {expected} ({} features and a label)",
                expected - 1
            ),
            DataError::NotANumber {
                line,
                column,
                value,
            } => {
                write!(
                    f,
                    "line {line}, column {column}: {value:?} is not a finite number"
                )
            }
            DataError::OutOfRange {
                line,
                column,
                value,
                lo,
                hi,
            } => write!(
                f,
                "line {line}, column {column}: value {value} is outside the accepted range {lo}..={hi}"
            ),
            DataError::BadLabel {
                line,
                value,
                accepted,
            } => {
                write!(
                    f,
                    "line {line}: label {value:?} is not valid; accepted: {accepted}"
                )
            }
            DataError::BadSplit { test_fraction } => write!(
                f,
                "test fraction {test_fraction} leaves an empty side; accepted: a fraction in (0, 1) \
                 that leaves at least one row on each side"
            ),
        }
    }
}

impl std::error::Error for DataError {}

/// Largest label accepted when the format does not fix the number of classes.
const MAX_CLASSES: usize = 1000;

/// Parses `features…, label` lines. Blank lines and lines starting with `#` are skipped.
///
/// # Errors
/// The first bad line, with its number and what is accepted.
pub fn parse_csv(text: &str, format: CsvFormat) -> Result<Dataset, DataError> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut width = format.n_features.map(|n| n + 1);
    let max_classes = format.n_classes.unwrap_or(MAX_CLASSES);
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let row = raw.trim();
        if row.is_empty() || row.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = row.split(',').map(str::trim).collect();
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected || expected < 2 {
            return Err(DataError::Width {
                line,
                got: fields.len(),
                expected: expected.max(2),
            });
        }
        let (label_field, feature_fields) = fields.split_last().expect("width checked above");
        for (column, field) in feature_fields.iter().enumerate() {
            let value: f32 = match field.parse::<f32>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(DataError::NotANumber {
                        line,
                        column: column + 1,
                        value: field.to_string(),
                    });
                }
            };
            if let Some((lo, hi)) = format.value_range
                && !(lo..=hi).contains(&value)
            {
                return Err(DataError::OutOfRange {
                    line,
                    column: column + 1,
                    value,
                    lo,
                    hi,
                });
            }
            features.push(value);
        }
        let label = label_field
            .parse::<usize>()
            .ok()
            .filter(|&l| l < max_classes);
        match label {
            Some(l) => labels.push(l),
            None => {
                return Err(DataError::BadLabel {
                    line,
                    value: label_field.to_string(),
                    accepted: format!("an integer class index from 0 to {}", max_classes - 1),
                });
            }
        }
    }
    let n_features = match width {
        Some(w) if !labels.is_empty() => w - 1,
        _ => return Err(DataError::Empty),
    };
    let n_classes = format
        .n_classes
        .unwrap_or_else(|| labels.iter().max().map_or(0, |m| m + 1));
    Ok(Dataset {
        features,
        labels,
        n_features,
        n_classes,
    })
}

/// Reads and parses a user's CSV file.
///
/// # Errors
/// [`DataError::Io`] when the file cannot be read, else as [`parse_csv`].
pub fn load_csv(path: &std::path::Path, format: CsvFormat) -> Result<Dataset, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse_csv(&text, format)
}

/// The format of the digits set: 64 pixels in 0..=16, labels 0..=9.
pub const DIGITS_FORMAT: CsvFormat = CsvFormat {
    n_features: Some(64),
    value_range: Some((0.0, 16.0)),
    n_classes: Some(10),
};

/// The embedded digits dataset, validated.
///
/// # Errors
/// Only if the embedded file were damaged; the error names the line.
pub fn digits() -> Result<Dataset, DataError> {
    parse_csv(DIGITS_CSV, DIGITS_FORMAT)
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(indices.len() * self.n_features);
        for &i in indices {
            features.extend_from_slice(self.row(i));
        }
        Dataset {
            features,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            n_features: self.n_features,
            n_classes: self.n_classes,
        }
    }

    /// A seeded shuffle split into (train, test); the same seed gives the same split.
    ///
    /// # Errors
    /// [`DataError::BadSplit`] when a side would be empty.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        let n_test = (self.len() as f64 * test_fraction).round() as usize;
        if !(test_fraction > 0.0 && test_fraction < 1.0) || n_test == 0 || n_test >= self.len() {
            return Err(DataError::BadSplit { test_fraction });
        }
        let order = shuffled(self.len(), seed);
        let (test, train) = order.split_at(n_test);
        Ok((self.select(train), self.select(test)))
    }

    /// Per-feature mean and standard deviation (a constant feature gets std 1).
    pub fn feature_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let d = self.n_features;
        let n = self.len().max(1) as f64;
        let mut mean = vec![0.0f64; d];
        let mut var = vec![0.0f64; d];
        for i in 0..self.len() {
            for (m, &x) in mean.iter_mut().zip(self.row(i)) {
                *m += x as f64 / n;
            }
        }
        for i in 0..self.len() {
            for ((v, &m), &x) in var.iter_mut().zip(&mean).zip(self.row(i)) {
                *v += (x as f64 - m).powi(2) / n;
            }
        }
        let std = var
            .iter()
            .map(|&v| if v > 1e-12 { v.sqrt() as f32 } else { 1.0 })
            .collect();
        (mean.iter().map(|&m| m as f32).collect(), std)
    }

    /// Rescales features to `(x - mean) / std` with statistics taken from another set (the
    /// training set, so the test set never leaks into them).
    pub fn standardize(&mut self, mean: &[f32], std: &[f32]) {
        for row in self.features.chunks_mut(self.n_features) {
            for ((x, &m), &s) in row.iter_mut().zip(mean).zip(std) {
                *x = (*x - m) / s;
            }
        }
    }
}

/// `0..n` in a seeded pseudo-random order (Fisher–Yates over a SplitMix64 stream).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_load_with_expected_shape_and_classes() {
        let d = digits().unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!(d.n_features, 64);
        assert_eq!(d.n_classes, 10);
        let mut counts = [0usize; 10];
        d.labels.iter().for_each(|&l| counts[l] += 1);
        assert!(
            counts.iter().all(|&c| (170..=190).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let d = digits().unwrap();
        let (train, test) = d.split(0.2, 7).unwrap();
        let (train2, test2) = d.split(0.2, 7).unwrap();
        assert_eq!(train, train2);
        assert_eq!(test, test2);
        assert_eq!(train.len() + test.len(), d.len());
        assert_eq!(test.len(), 359);
        let (_, other) = d.split(0.2, 8).unwrap();
        assert_ne!(test, other);
        let mut order = shuffled(100, 3);
        order.sort_unstable();
        assert_eq!(order, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn bad_rows_name_the_line() {
        let fmt = DIGITS_FORMAT;
        let row = |v: &str| format!("{}{v}\n", "1,".repeat(64));
        let good = row("3");
        let err = parse_csv(&format!("{good}{}", "1,2,3\n"), fmt).unwrap_err();
        assert_eq!(
            err,
            DataError::Width {
                line: 2,
                got: 3,
                expected: 65
            }
        );
        assert!(err.to_string().contains("line 2") && err.to_string().contains("64 features"));
        let err = parse_csv(&format!("{good}{good}{}", row("10")), fmt).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("0 to 9"));
        let bad_pixel = format!("17,{}", &good[2..]);
        let err = parse_csv(&bad_pixel, fmt).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::OutOfRange {
                    line: 1,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_csv(&format!("x,{}", &good[2..]), fmt).unwrap_err();
        assert!(
            err.to_string().contains("\"x\" is not a finite number"),
            "{err}"
        );
        assert_eq!(
            parse_csv("\n# only a comment\n", fmt).unwrap_err(),
            DataError::Empty
        );
    }

    #[test]
    fn user_csv_takes_width_and_classes_from_data() {
        let d = parse_csv("0.5,1,0\n2,-3,2\n", CsvFormat::default()).unwrap();
        assert_eq!((d.n_features, d.n_classes, d.len()), (2, 3, 2));
        let err = parse_csv("0.5,1,0\n2,-3,-1\n", CsvFormat::default()).unwrap_err();
        assert!(matches!(err, DataError::BadLabel { line: 2, .. }));
        let err = parse_csv("1,nan,0\n", CsvFormat::default()).unwrap_err();
        assert!(matches!(
            err,
            DataError::NotANumber {
                line: 1,
                column: 2,
                ..
            }
        ));
        let missing = load_csv(
            std::path::Path::new("/nonexistent/x.csv"),
            CsvFormat::default(),
        );
        assert!(matches!(missing, Err(DataError::Io { .. })));
        assert!(d.split(0.0, 1).is_err() && d.split(1.0, 1).is_err());
    }

    #[test]
    fn standardize_gives_zero_mean_unit_std() {
        let mut d = parse_csv("1,10,0\n3,10,1\n5,10,0\n", CsvFormat::default()).unwrap();
        let (mean, std) = d.feature_stats();
        assert_eq!(mean, vec![3.0, 10.0]);
        assert_eq!(std[1], 1.0, "constant feature keeps std 1");
        d.standardize(&mean, &std);
        let (m2, s2) = d.feature_stats();
        assert!(m2[0].abs() < 1e-6 && (s2[0] - 1.0).abs() < 1e-6);
    }
}
