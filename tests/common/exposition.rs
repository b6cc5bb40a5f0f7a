//! A small but complete parser of the Prometheus text exposition format (0.0.4) and its
//! OpenMetrics 1.0 superset, so tests assert on parsed samples, never on substrings.
//!
//! Handles `# HELP`, `# TYPE`, `# UNIT`, `# EOF` (must be last) and plain comments; metric
//! names; label sets with `\\`, `\"` and `\n` escapes and an optional trailing comma; values
//! including `+Inf`, `-Inf` and `NaN`; optional timestamps and OpenMetrics exemplars. Each
//! sample is attached to its family: the `# TYPE` name itself, or the name minus the suffix
//! the family's type allows (`_total`/`_created` for counters, `_bucket`/`_sum`/`_count`/
//! `_created` for histograms, ...). Duplicate series and malformed lines are errors.

use std::collections::BTreeMap;
use std::fmt;

/// The type a `# TYPE` line declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    StateSet,
    Info,
    Unknown,
}

impl MetricType {
    fn parse(text: &str) -> Option<MetricType> {
        Some(match text {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "stateset" => MetricType::StateSet,
            "info" => MetricType::Info,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// Sample name suffixes a family of this type may use.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Histogram => &["_bucket", "_sum", "_count", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            MetricType::Summary => &["_sum", "_count", "_created"],
            MetricType::Info => &["_info"],
            MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
        }
    }
}

/// A metric family's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Declared type (`Unknown` when only HELP/UNIT was given).
    pub kind: MetricType,
    /// `# HELP` text, unescaped.
    pub help: Option<String>,
    /// `# UNIT`.
    pub unit: Option<String>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name (`foo_total`, `foo_bucket`, ...).
    pub name: String,
    /// The family it belongs to, when one was declared.
    pub family: Option<String>,
    /// Labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
    /// Optional timestamp.
    pub timestamp: Option<f64>,
}

/// A whole parsed exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Families by name.
    pub families: BTreeMap<String, Family>,
    /// Samples in document order.
    pub samples: Vec<Sample>,
    /// Whether the document ended with `# EOF` (OpenMetrics).
    pub eof: bool,
}

/// Why a document did not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a text exposition.
pub fn parse(text: &str) -> Result<Exposition, ParseError> {
    let mut out = Exposition::default();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let err = |message: String| ParseError {
            line: number,
            message,
        };
        if out.eof {
            return Err(err(format!("content after # EOF: {line:?}")));
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            parse_comment(comment, &mut out).map_err(err)?;
            continue;
        }
        let sample = parse_sample(line, &out.families).map_err(err)?;
        let key = (sample.name.clone(), sample.labels.clone());
        if !seen.insert(key) {
            return Err(err(format!("duplicate series: {line:?}")));
        }
        out.samples.push(sample);
    }
    Ok(out)
}

fn parse_comment(comment: &str, out: &mut Exposition) -> Result<(), String> {
    let comment = comment.strip_prefix(' ').unwrap_or(comment);
    let mut words = comment.splitn(3, ' ');
    let keyword = words.next().unwrap_or("");
    match keyword {
        "EOF" if comment.trim_end() == "EOF" => {
            out.eof = true;
            Ok(())
        }
        "HELP" | "TYPE" | "UNIT" => {
            let name = words
                .next()
                .filter(|name| is_metric_name(name))
                .ok_or_else(|| format!("# {keyword} without a valid metric name"))?;
            let rest = words.next().unwrap_or("");
            let family = out
                .families
                .entry(name.to_string())
                .or_insert_with(|| Family {
                    kind: MetricType::Unknown,
                    help: None,
                    unit: None,
                });
            match keyword {
                "HELP" => {
                    if family.help.is_some() {
                        return Err(format!("second # HELP for {name}"));
                    }
                    family.help = Some(unescape(rest, false)?);
                }
                "TYPE" => {
                    family.kind = MetricType::parse(rest.trim())
                        .ok_or_else(|| format!("unknown metric type {rest:?} for {name}"))?;
                }
                _ => family.unit = Some(rest.trim().to_string()),
            }
            Ok(())
        }
        // Any other comment is ignored (text format 0.0.4).
        _ => Ok(()),
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Undoes `\\`, `\n` and (in label values) `\"`.
fn unescape(text: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            // 0.0.4 HELP text keeps unknown escapes as they are.
            Some(other) if !quotes => {
                out.push('\\');
                out.push(other);
            }
            other => return Err(format!("bad escape \\{other:?} in {text:?}")),
        }
    }
    Ok(out)
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        "NaN" | "nan" => Ok(f64::NAN),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("bad sample value {text:?}")),
    }
}

fn family_of(name: &str, families: &BTreeMap<String, Family>) -> Option<String> {
    if families.contains_key(name) {
        return Some(name.to_string());
    }
    families
        .iter()
        .find(|(family, meta)| {
            meta.kind
                .suffixes()
                .iter()
                .any(|suffix| name.strip_suffix(suffix) == Some(family.as_str()))
        })
        .map(|(family, _)| family.clone())
}

fn parse_sample(line: &str, families: &BTreeMap<String, Family>) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name in {line:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no value in {line:?}"))?;
    // An OpenMetrics exemplar follows ` # `.
    let rest = rest.split_once(" # ").map_or(rest, |(sample, _)| sample);
    let mut fields = rest.split(' ').filter(|field| !field.is_empty());
    let value = parse_value(
        fields
            .next()
            .ok_or_else(|| format!("no value in {line:?}"))?,
    )?;
    let timestamp = fields
        .next()
        .map(|ts| {
            ts.parse::<f64>()
                .map_err(|_| format!("bad timestamp in {line:?}"))
        })
        .transpose()?;
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} in {line:?}"));
    }
    let family = family_of(name, families);
    if let Some(family) = &family {
        let kind = families[family].kind;
        if matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram)
            && name.ends_with("_bucket")
            && !labels.contains_key("le")
        {
            return Err(format!("histogram bucket without le: {line:?}"));
        }
    }
    Ok(Sample {
        name: name.to_string(),
        family,
        labels,
        value,
        timestamp,
    })
}

/// Parses `name="value",...}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        text = text.trim_start_matches(' ');
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let eq = text
            .find('=')
            .ok_or_else(|| format!("label without '=' in {text:?}"))?;
        let name = text[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let value_text = text[eq + 1..]
            .trim_start_matches(' ')
            .strip_prefix('"')
            .ok_or_else(|| format!("label {name} value is not quoted"))?;
        // Find the closing quote, skipping escaped characters.
        let mut end = None;
        let mut escaped = false;
        for (at, c) in value_text.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(at);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("unterminated value of label {name}"))?;
        let value = unescape(&value_text[..end], true)?;
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} given twice"));
        }
        text = value_text[end + 1..].trim_start_matches(' ');
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label {name}"));
        }
    }
}

impl Exposition {
    /// The value of the series `name` with exactly the labels `labels`, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// The value of a series that must be present.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| {
            let known: Vec<String> = self
                .samples_named(name)
                .map(|s| format!("{:?}", s.labels))
                .collect();
            panic!("no series {name}{labels:?} in the scrape; label sets of {name}: {known:?}")
        })
    }

    /// Every sample with this name.
    pub fn samples_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The declared type of a family.
    pub fn kind(&self, family: &str) -> Option<MetricType> {
        self.families.get(family).map(|f| f.kind)
    }
}
