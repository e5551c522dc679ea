package org.xrayscreening.trainer.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.xrayscreening.trainer.TrainerCli;
import picocli.CommandLine;
import org.xrayscreening.testsupport.MarkdownCommands;

/**
 * Every trainer command line that README.md and docs/*.md show ({@code trainer/trainer.sh ...}, {@code $T ...}
 * with {@code T="java -jar trainer/target/trainer-0.1.0-SNAPSHOT.jar"}, {@code java -jar trainer/target/...})
 * parses against the real TrainerCli (parse only: nothing runs). {@code trainer.sh --freeze DIR} is the
 * launcher's own option and is checked for its shape only.
 */
class ReadmeTrainerCommandLinesTest {

    static final List<String> PREFIXES = List.of("trainer/trainer.sh", "$T",
            "java -jar trainer/target/trainer-0.1.0-SNAPSHOT.jar");

    /** Shell variables used in documented loops, with a value each may take. */
    static final Map<String, String> VARIABLES = Map.of("spec%%:*", "mobilenet", "spec#*:", "224");

    @Test
    void everyDocumentedTrainerCommandLineParses() throws IOException {
        Path root = MarkdownCommands.repositoryRoot();
        List<Path> docs = new ArrayList<>(List.of(root.resolve("README.md")));
        try (Stream<Path> s = Files.list(root.resolve("docs"))) {
            s.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        List<String> failures = new ArrayList<>();
        List<String> parsed = new ArrayList<>();
        for (Path doc : docs) {
            for (MarkdownCommands.Found f : MarkdownCommands.scan(doc, PREFIXES, VARIABLES).commands) {
                List<String> args = f.args();
                if (!args.isEmpty() && args.get(0).equals("--freeze")) {
                    if (args.size() != 2) {
                        failures.add(f + "\n    -> trainer.sh --freeze takes exactly one folder");
                    }
                    continue;
                }
                try {
                    TrainerCli.newCommandLine().parseArgs(args.toArray(String[]::new));
                    parsed.add(f.toString());
                } catch (CommandLine.ParameterException e) {
                    failures.add(f + "\n    -> " + e.getMessage());
                }
            }
        }
        System.out.println("parsed:\n  " + String.join("\n  ", parsed));
        assertThat(failures).as("documented trainer command lines the CLI refuses").isEmpty();
        assertThat(parsed).as("command lines found (is the extraction still working?)").hasSizeGreaterThanOrEqualTo(12);
        assertThat(parsed).anyMatch(p -> p.startsWith("README.md") && p.contains("$T serve"));
        assertThat(parsed).anyMatch(p -> p.startsWith("README.md") && p.contains("trainer/trainer.sh evaluate"));
    }
}
