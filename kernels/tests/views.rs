//! Matrix views: bounds checked once at construction, self-overlapping mutable views
//! refused, zero-sized dimensions valid, transpose as swapped dims and strides.

use poolgrad_kernels::{KernelError, MatMut, MatRef};

#[test]
fn out_of_bounds_strides_are_an_error_naming_the_shape() {
    let data = vec![0.0f32; 11];
    // 3x4 row-major needs 12 elements.
    let err = MatRef::row_major(&data, 3, 4).unwrap_err();
    assert!(matches!(err, KernelError::OutOfBounds { len: 11, .. }));
    let msg = err.to_string();
    for part in [
        "MatRef",
        "3x4",
        "row stride 4",
        "column stride 1",
        "length 11",
        "at least 12",
    ] {
        assert!(msg.contains(part), "`{msg}` lacks `{part}`");
    }
    // A padded stride that steps past the end on the last row.
    let err = MatRef::new(&data, 2, 3, 9, 1).unwrap_err();
    assert!(err.to_string().contains("at least 12"), "{err}");
    // Column-major addressing past the end.
    assert!(MatRef::new(&data, 4, 3, 1, 4).is_err());
    assert!(MatRef::new(&data, 5, 3, 1, 4).is_err()); // needs 4 + 2*4 + 1 = 13
    let mut buf = vec![0.0f32; 11];
    let err = MatMut::new(&mut buf, 3, 4, 4, 1).unwrap_err();
    assert!(err.to_string().starts_with("MatMut"), "{err}");
}

#[test]
fn exact_fit_is_accepted() {
    let data = vec![0.0f32; 12];
    assert!(MatRef::row_major(&data, 3, 4).is_ok());
    assert!(MatRef::new(&data, 4, 3, 1, 4).is_ok()); // col-major: 3 + 2*4 + 1 = 12
    assert!(MatRef::new(&data, 2, 2, 11, 0).is_ok()); // zero column stride: broadcast
}

#[test]
fn huge_strides_do_not_overflow_or_panic() {
    let data = vec![0.0f32; 16];
    let err = MatRef::new(&data, usize::MAX, 2, usize::MAX, 1).unwrap_err();
    // The message itself must not overflow computing the length the view would need.
    let msg = err.to_string();
    assert!(
        msg.contains("length 16") && msg.contains("more than"),
        "{msg}"
    );
    let err = MatRef::new(&data, 2, usize::MAX, 1, usize::MAX).unwrap_err();
    assert!(err.to_string().contains("length 16"), "{err}");
    let mut buf = vec![0.0f32; 16];
    assert!(MatMut::new(&mut buf, 3, 3, usize::MAX / 2, 1).is_err());
}

#[test]
fn self_overlapping_mut_view_is_an_error() {
    let mut buf = vec![0.0f32; 16];
    // Rows overlap: row stride 2 < 4 columns.
    let err = MatMut::new(&mut buf, 3, 4, 2, 1).unwrap_err();
    assert_eq!(
        err,
        KernelError::SelfOverlap {
            rows: 3,
            cols: 4,
            row_stride: 2,
            col_stride: 1
        }
    );
    let msg = err.to_string();
    for part in [
        "MatMut",
        "3x4",
        "row stride 2",
        "onto one element",
        "row_stride >= cols*col_stride",
    ] {
        assert!(msg.contains(part), "`{msg}` lacks `{part}`");
    }
    // A zero stride (broadcast) is fine to read but not to write.
    assert!(MatMut::new(&mut buf, 4, 4, 0, 1).is_err());
    assert!(MatMut::new(&mut buf, 4, 4, 4, 0).is_err());
    // But an immutable broadcast view is valid.
    assert!(MatRef::new(&buf, 4, 4, 0, 1).is_ok());
    // Non-overlapping layouts are accepted: row-major, column-major, padded.
    assert!(MatMut::new(&mut buf, 4, 4, 4, 1).is_ok());
    assert!(MatMut::new(&mut buf, 4, 4, 1, 4).is_ok());
    assert!(MatMut::new(&mut buf, 3, 3, 5, 1).is_ok());
    // A single row or column needs only its own stride to be non-zero.
    assert!(MatMut::new(&mut buf, 1, 4, 0, 1).is_ok());
    assert!(MatMut::new(&mut buf, 4, 1, 1, 0).is_ok());
    assert!(MatMut::new(&mut buf, 1, 4, 1, 0).is_err());
}

#[test]
fn zero_sized_dimensions_are_valid() {
    let empty: [f32; 0] = [];
    for (rows, cols) in [(0, 0), (0, 5), (5, 0)] {
        let v = MatRef::row_major(&empty, rows, cols).unwrap();
        assert_eq!((v.rows(), v.cols()), (rows, cols));
        assert_eq!((v.t().rows(), v.t().cols()), (cols, rows));
        let mut e: [f32; 0] = [];
        let m = MatMut::row_major(&mut e, rows, cols).unwrap();
        assert_eq!((m.rows(), m.cols()), (rows, cols));
        let mut e: [f32; 0] = [];
        assert!(MatMut::row_major(&mut e, rows, cols).unwrap().t().rows() == cols);
    }
    // Any strides are fine when nothing is addressed.
    let mut e: [f32; 0] = [];
    assert!(MatMut::new(&mut e, 0, 7, 0, 0).is_ok());
    assert!(MatRef::new(&empty, 9, 0, 100, 100).is_ok());
}

#[test]
fn transpose_swaps_dims_and_strides() {
    let data: Vec<f32> = (0..15).map(|x| x as f32).collect();
    let a = MatRef::new(&data, 3, 4, 5, 1).unwrap(); // padded rows
    let t = a.t();
    assert_eq!(
        (t.rows(), t.cols(), t.row_stride(), t.col_stride()),
        (4, 3, 1, 5)
    );
    for i in 0..3 {
        for j in 0..4 {
            assert_eq!(a.at(i, j), (i * 5 + j) as f32);
            assert_eq!(t.at(j, i), a.at(i, j));
        }
    }
    let back = t.t();
    assert_eq!((back.rows(), back.cols(), back.row_stride()), (3, 4, 5));
    let mut buf = data.clone();
    let mut m = MatMut::new(&mut buf, 3, 4, 5, 1).unwrap().t();
    *m.at_mut(3, 2) = -1.0; // (2, 3) of the original
    assert_eq!(m.as_ref().at(3, 2), -1.0);
    assert_eq!(buf[2 * 5 + 3], -1.0);
}

#[test]
fn block_is_checked() {
    let data: Vec<f32> = (0..20).map(|x| x as f32).collect();
    let a = MatRef::row_major(&data, 4, 5).unwrap();
    let b = a.block(1, 2, 2, 3).unwrap();
    assert_eq!(
        (b.rows(), b.cols(), b.at(0, 0), b.at(1, 2)),
        (2, 3, 7.0, 14.0)
    );
    assert!(a.block(3, 0, 2, 1).is_err());
    assert!(a.block(0, 4, 1, 2).is_err());
    assert!(
        a.block(usize::MAX, 0, 2, 1).is_err(),
        "overflowing start must not panic"
    );
    assert!(a.block(0, 1, 0, usize::MAX).is_err());
    let empty = a.block(4, 5, 0, 0).unwrap();
    assert_eq!((empty.rows(), empty.cols()), (0, 0));
}

#[test]
fn split_rows_and_cols_partition_the_view() {
    let mut buf: Vec<f32> = vec![0.0; 4 * 6];
    let c = MatMut::new(&mut buf, 4, 5, 6, 1).unwrap();
    let (mut top, mut bottom) = c.split_rows(1).unwrap();
    assert_eq!((top.rows(), bottom.rows()), (1, 3));
    *top.at_mut(0, 4) = 1.0;
    *bottom.at_mut(2, 0) = 2.0;

    assert_eq!((buf[4], buf[18]), (1.0, 2.0));
    let c = MatMut::new(&mut buf, 4, 5, 6, 1).unwrap();
    assert!(c.split_rows(5).is_none(), "split past the end");
    // Column-major views split by columns, not by rows.
    let c = MatMut::new(&mut buf, 4, 5, 1, 4).unwrap();
    assert!(c.split_rows(2).is_none());
    let c = MatMut::new(&mut buf, 4, 5, 1, 4).unwrap();
    let (left, right) = c.split_cols(2).unwrap();
    assert_eq!((left.cols(), right.cols(), right.rows()), (2, 3, 4));
}
