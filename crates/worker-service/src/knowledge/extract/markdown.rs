//! Heading paths of Markdown text (pulldown-cmark), e.g. `Guide > Install > Linux`, each with
//! the byte offset where it takes effect.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

pub fn heading_paths(text: &str) -> Vec<(usize, String)> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    let mut current: Option<(usize, usize, String)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((level_number(level), range.start, String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, title)) = current.as_mut() {
                    title.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, start, title)) = current.take() {
                    stack.retain(|(l, _)| *l < level);
                    stack.push((level, common::text::one_line(title.trim())));
                    let path: Vec<&str> = stack.iter().map(|(_, t)| t.as_str()).collect();
                    out.push((start, path.join(" > ")));
                }
            }
            _ => {}
        }
    }
    out
}

fn level_number(level: HeadingLevel) -> usize {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_heading_levels() {
        let text = "# Guide\nintro\n## Install\nsteps\n### Linux\napt\n## Use\nrun\n";
        let paths: Vec<String> = heading_paths(text).into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            paths,
            [
                "Guide",
                "Guide > Install",
                "Guide > Install > Linux",
                "Guide > Use"
            ]
        );
        let (start, _) = heading_paths(text)[1].clone();
        assert!(text[start..].starts_with("## Install"));
    }
}
