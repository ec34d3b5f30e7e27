//! CSV that a spreadsheet opens without running anything in it: RFC 4180 quoting by the `csv`
//! crate, and every cell that a spreadsheet would read as a formula (one that starts with `=`,
//! `+`, `-`, `@`, a tab or a carriage return) kept as text by a leading `'`, as OWASP advises.
//! Every CSV Tessera writes goes through `write`; `from_cell` undoes the `'`, so that an export
//! imports back.

use std::borrow::Cow;

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as written: a value that starts like a formula gets a leading `'`.
pub fn to_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The value a cell written by `to_cell` holds.
pub fn from_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(value) if value.starts_with(FORMULA_STARTS) => value,
        _ => cell,
    }
}

/// A CSV document: the header, then one line per row, each cell through `to_cell`.
pub fn write<R, C>(header: &[&str], rows: R) -> Result<String, csv::Error>
where
    R: IntoIterator<Item = C>,
    C: IntoIterator,
    C::Item: AsRef<str>,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|cell| to_cell(cell.as_ref()).into_owned())
            .collect();
        writer.write_record(&cells)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))?;
    Ok(String::from_utf8(bytes).expect("the cells were strings"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_that_starts_like_a_formula_is_kept_as_text() {
        for formula in [
            "=HYPERLINK(\"http://evil\",\"x\")",
            "+1+2",
            "-1+2",
            "@SUM(A1)",
            "\tcmd",
            "\rcmd",
        ] {
            assert_eq!(to_cell(formula), format!("'{formula}"), "{formula:?}");
            assert_eq!(from_cell(&to_cell(formula)), formula);
        }
        assert_eq!(to_cell("plain"), "plain");
        assert_eq!(to_cell("a=b"), "a=b");
    }

    #[test]
    fn a_leading_quote_is_taken_off_only_where_it_was_put_on() {
        assert_eq!(from_cell("'+13035551212"), "+13035551212");
        assert_eq!(from_cell("'quoted"), "'quoted");
        assert_eq!(from_cell("plain"), "plain");
    }

    #[test]
    fn a_document_quotes_by_rfc_4180_after_defusing() {
        let csv = write(&["a", "b"], [["x,y", "say \"hi\""], ["=1+1", "-"]]).unwrap();
        assert_eq!(csv, "a,b\n\"x,y\",\"say \"\"hi\"\"\"\n'=1+1,'-\n");
    }
}
