package org.xrayscreening.stream.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xrayscreening.stream.ScreeningJob;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import org.xrayscreening.testsupport.MarkdownCommands;

/**
 * Every {@code ./xray-screening ...} and {@code flink run ... stream-job-*.jar ...} command line that README.md
 * and docs/*.md show, and every row of their options tables, parses against the real command classes (parse
 * only: nothing runs). A command line the CLI refuses fails this test: fix the document or the CLI.
 */
class ReadmeCommandLinesTest {

    static final List<String> PREFIXES = List.of("./xray-screening",
            "flink run -d stream-job/target/stream-job-0.1.0-SNAPSHOT.jar",
            "flink run stream-job/target/stream-job-0.1.0-SNAPSHOT.jar");

    private static List<Path> documents() throws IOException {
        Path root = MarkdownCommands.repositoryRoot();
        List<Path> docs = new ArrayList<>(List.of(root.resolve("README.md")));
        try (Stream<Path> s = Files.list(root.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        return docs;
    }

    @Test
    void everyDocumentedCommandLineParses(@TempDir Path tmp) throws IOException {
        Path properties = tmp.resolve("screening.properties");
        Files.writeString(properties, readmeProperties());
        List<String> failures = new ArrayList<>();
        List<String> parsed = new ArrayList<>();
        for (Path doc : documents()) {
            MarkdownCommands found = MarkdownCommands.scan(doc, PREFIXES, Map.of());
            for (MarkdownCommands.Found f : found.commands) {
                List<String> args = new ArrayList<>(f.args());
                args.replaceAll(a -> a.equals("screening.properties") ? properties.toString() : a);
                check(f.toString(), args, failures, parsed);
            }
            for (MarkdownCommands.TableRow row : found.tableRows) {
                if (row.secondHeader().equalsIgnoreCase("default")) {
                    continue; // the reference table: checked by everyOptionOfTheReferenceTableExists
                }
                List<String> args = new ArrayList<>();
                List<String> before = row.lastCommandBefore() == null ? List.of()
                        : MarkdownCommands.tokens(row.lastCommandBefore().replaceFirst("^\\./xray-screening", ""),
                                Map.of(), row.where());
                if (!before.isEmpty() && !before.get(0).startsWith("-")) {
                    args.add(before.get(0)); // the sub-command the table is about ("./xray-screening local --help lists all")
                }
                args.addAll(MarkdownCommands.tokens(row.options(), Map.of(), row.where()));
                check(row.where() + " (options table): " + String.join(" ", args), args, failures, parsed);
            }
        }
        System.out.println("parsed:\n  " + String.join("\n  ", parsed));
        assertThat(failures).as("documented command lines the CLI refuses").isEmpty();
        assertThat(parsed).as("command lines found (is the extraction still working?)").hasSizeGreaterThanOrEqualTo(12);
        assertThat(parsed).anyMatch(p -> p.contains("(options table): local --registry DIR"));
        assertThat(parsed).anyMatch(p -> p.contains("benchmarks.md"));
    }

    private static void check(String what, List<String> args, List<String> failures, List<String> parsed) {
        String[] a = args.toArray(String[]::new);
        try {
            ScreeningJob.commandLine(new ScreeningJob(), a).parseArgs(a);
            parsed.add(what);
        } catch (CommandLine.ParameterException e) {
            failures.add(what + "\n    -> " + e.getMessage());
        }
    }

    @Test
    void everyOptionOfTheReferenceTableAndThePropertiesExampleExists() throws IOException {
        CommandSpec spec = new CommandLine(new ScreeningJob()).getCommandSpec();
        List<String> missing = new ArrayList<>();
        int checked = 0;
        for (Path doc : documents()) {
            for (MarkdownCommands.TableRow row : MarkdownCommands.scan(doc, PREFIXES, Map.of()).tableRows) {
                if (!row.secondHeader().equalsIgnoreCase("default")) {
                    continue;
                }
                for (Matcher m = Pattern.compile("--[a-z][a-z0-9-]*").matcher(row.options()); m.find(); checked++) {
                    if (spec.findOption(m.group()) == null) {
                        missing.add(row.where() + ": " + m.group());
                    }
                }
            }
        }
        Properties p = new Properties();
        p.load(new java.io.StringReader(readmeProperties()));
        for (String key : p.stringPropertyNames()) {
            checked++;
            if (spec.findOption("--" + key) == null) {
                missing.add("README.md screening.properties: " + key);
            }
        }
        assertThat(missing).as("documented options the job does not have").isEmpty();
        assertThat(checked).isGreaterThan(20);
    }

    /** The README's example properties file (the fenced block that starts with "# screening.properties"). */
    private static String readmeProperties() throws IOException {
        Path readme = MarkdownCommands.repositoryRoot().resolve("README.md");
        return MarkdownCommands.scan(readme, PREFIXES, Map.of()).fencedBlocks.stream()
                .filter(b -> b.startsWith("# screening.properties")).findFirst()
                .orElseThrow(() -> new AssertionError("README.md has no '# screening.properties' block"));
    }
}
