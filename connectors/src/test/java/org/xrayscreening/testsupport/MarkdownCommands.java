package org.xrayscreening.testsupport;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the command lines a Markdown document shows for a program: in fenced code blocks (continuation lines
 * joined, leading {@code VAR=value} assignments skipped, a trailing {@code # comment} dropped) and in inline code
 * spans that start with the program. Options tables (a table whose first column holds {@code `--option value`}
 * spans) are returned separately. Used to check that every documented command line parses.
 */
public final class MarkdownCommands {

    /** One command line: where it was found, and its arguments after the program prefix. */
    public record Found(String where, String text, List<String> args) {
        @Override
        public String toString() {
            return where + ": " + text;
        }
    }

    /** One row of an options table: the first column's options and the header of the table's second column. */
    public record TableRow(String where, String options, String secondHeader, String lastCommandBefore) {}

    private static final Pattern ENV = Pattern.compile("^([A-Za-z_][A-Za-z0-9_]*=(\"[^\"]*\"|'[^']*'|\\S*)\\s+)+");
    private static final Pattern SPAN = Pattern.compile("`([^`]+)`");

    public final List<Found> commands = new ArrayList<>();
    public final List<TableRow> tableRows = new ArrayList<>();
    public final List<String> fencedBlocks = new ArrayList<>();

    private MarkdownCommands() {}

    /**
     * @param prefixes program prefixes, e.g. "./xray-screening"; a command starts with one followed by a space or
     *                 the end of the line / span
     * @param variables values for shell variables in arguments ("spec%%:*" for ${spec%%:*}, "T" for $T)
     */
    public static MarkdownCommands scan(Path file, List<String> prefixes, Map<String, String> variables) throws IOException {
        MarkdownCommands found = new MarkdownCommands();
        List<String> lines = Files.readAllLines(file);
        String name = file.getFileName().toString();
        boolean inFence = false;
        StringBuilder fence = new StringBuilder();
        StringBuilder logical = new StringBuilder();
        int logicalStart = 0;
        List<String> paragraph = new ArrayList<>();
        int paragraphStart = 0;
        String lastCommand = null;
        List<String> table = new ArrayList<>();
        for (int i = 0; i <= lines.size(); i++) {
            String line = i < lines.size() ? lines.get(i) : "";
            if (i < lines.size() && line.strip().startsWith("```")) {
                if (!inFence) {
                    lastCommand = found.flushParagraph(name, paragraphStart, paragraph, prefixes, variables, lastCommand);
                    found.flushTable(name, table, lastCommand);
                    fence.setLength(0);
                } else {
                    found.fencedBlocks.add(fence.toString());
                }
                inFence = !inFence;
                continue;
            }
            if (inFence) {
                fence.append(line).append('\n');
                if (logical.isEmpty()) {
                    logicalStart = i + 1;
                }
                if (line.endsWith("\\")) {
                    logical.append(line, 0, line.length() - 1).append(' ');
                    continue;
                }
                logical.append(line);
                String cmd = ENV.matcher(logical.toString().strip()).replaceFirst("");
                logical.setLength(0);
                Found f = found.match(name + ":" + logicalStart, cmd, prefixes, variables);
                if (f != null) {
                    lastCommand = f.text();
                }
                continue;
            }
            if (line.strip().startsWith("|")) {
                lastCommand = found.flushParagraph(name, paragraphStart, paragraph, prefixes, variables, lastCommand);
                table.add((i + 1) + "\u0000" + line);
                for (Matcher m = SPAN.matcher(line); m.find(); ) {
                    Found f = found.match(name + ":" + (i + 1), m.group(1).strip(), prefixes, variables);
                    if (f != null) {
                        lastCommand = f.text();
                    }
                }
                continue;
            }
            found.flushTable(name, table, lastCommand);
            if (line.isBlank() || i == lines.size()) {
                lastCommand = found.flushParagraph(name, paragraphStart, paragraph, prefixes, variables, lastCommand);
            } else {
                if (paragraph.isEmpty()) {
                    paragraphStart = i + 1;
                }
                paragraph.add(line);
            }
        }
        return found;
    }

    private String flushParagraph(String name, int start, List<String> paragraph, List<String> prefixes,
            Map<String, String> variables, String lastCommand) {
        String text = String.join(" ", paragraph);
        paragraph.clear();
        for (Matcher m = SPAN.matcher(text); m.find(); ) {
            Found f = match(name + ":" + start, m.group(1).strip(), prefixes, variables);
            if (f != null) {
                lastCommand = f.text();
            }
        }
        return lastCommand;
    }

    private void flushTable(String name, List<String> table, String lastCommand) {
        if (table.isEmpty()) {
            return;
        }
        String[] header = cells(table.get(0).split("\u0000", 2)[1]);
        String second = header.length > 1 ? header[1].strip() : "";
        for (String row : table.subList(Math.min(2, table.size()), table.size())) {
            String[] parts = row.split("\u0000", 2);
            String first = cells(parts[1])[0];
            List<String> spans = new ArrayList<>();
            for (Matcher m = SPAN.matcher(first); m.find(); ) {
                spans.add(m.group(1).strip());
            }
            if (!spans.isEmpty() && spans.stream().allMatch(s -> s.startsWith("--"))) {
                tableRows.add(new TableRow(name + ":" + parts[0], String.join(" ", spans), second, lastCommand));
            }
        }
        table.clear();
    }

    private static String[] cells(String row) {
        String r = row.strip();
        r = r.substring(1, r.endsWith("|") ? r.length() - 1 : r.length());
        return r.split("\\|");
    }

    private Found match(String where, String text, List<String> prefixes, Map<String, String> variables) {
        for (String prefix : prefixes) {
            if (text.equals(prefix) || text.startsWith(prefix + " ")) {
                String rest = text.substring(prefix.length());
                Found f = new Found(where, text, tokens(rest, variables, where));
                commands.add(f);
                return f;
            }
        }
        return null;
    }

    /** Shell-like words up to the end of the command ({@code #} comment, pipe, {@code ;}, {@code &&}, redirection). */
    public static List<String> tokens(String s, Map<String, String> variables, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                if (inWord) {
                    out.add(cur.toString());
                    cur.setLength(0);
                    inWord = false;
                }
                continue;
            }
            if (!inWord && (c == '#' || c == '|' || c == ';' || c == '>' || c == '&')) {
                break;
            }
            inWord = true;
            if (c == '\'') {
                int end = s.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new IllegalArgumentException(where + ": unbalanced ' in " + s);
                }
                cur.append(s, i + 1, end);
                i = end;
            } else if (c == '"') {
                int end = i + 1;
                StringBuilder q = new StringBuilder();
                while (end < s.length() && s.charAt(end) != '"') {
                    if (s.charAt(end) == '\\' && end + 1 < s.length()) {
                        end++;
                    }
                    q.append(s.charAt(end));
                    end++;
                }
                if (end >= s.length()) {
                    throw new IllegalArgumentException(where + ": unbalanced \" in " + s);
                }
                cur.append(expand(q.toString(), variables, where));
                i = end;
            } else if (c == '\\' && i + 1 < s.length()) {
                cur.append(s.charAt(++i));
            } else if (c == '$') {
                int end;
                String var;
                if (i + 1 < s.length() && s.charAt(i + 1) == '{') {
                    end = s.indexOf('}', i);
                    var = s.substring(i + 2, end);
                } else {
                    end = i + 1;
                    while (end < s.length() && (Character.isLetterOrDigit(s.charAt(end)) || s.charAt(end) == '_')) {
                        end++;
                    }
                    var = s.substring(i + 1, end);
                    end--;
                }
                cur.append(value(var, variables, where));
                i = end;
            } else {
                cur.append(c);
            }
        }
        if (inWord) {
            out.add(cur.toString());
        }
        return out;
    }

    private static String expand(String quoted, Map<String, String> variables, String where) {
        Matcher m = Pattern.compile("\\$\\{([^}]+)}|\\$([A-Za-z_][A-Za-z0-9_]*)").matcher(quoted);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(sb, Matcher.quoteReplacement(value(m.group(1) != null ? m.group(1) : m.group(2),
                    variables, where)));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static String value(String var, Map<String, String> variables, String where) {
        String v = variables.get(var);
        if (v == null) {
            throw new IllegalArgumentException(where + ": no placeholder value for shell variable $" + var
                    + " (add one to the test)");
        }
        return v;
    }

    /** The checkout's root: the nearest folder upwards from the working directory holding README.md and pom.xml. */
    public static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("README.md")) && Files.isRegularFile(p.resolve("pom.xml"))
                    && Files.isDirectory(p.resolve("stream-job"))) {
                return p;
            }
        }
        throw new IllegalStateException("no checkout root above " + Path.of("").toAbsolutePath());
    }
}
