package org.xrayscreening.worklist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xrayscreening.testsupport.MarkdownCommands;
import picocli.CommandLine;

/** Every worklist command line README.md shows parses against the real command. */
class ReadmeWorklistCommandLinesTest {
    static final List<String> PREFIXES = List.of("java -jar worklist/target/worklist-0.1.0-SNAPSHOT.jar");

    @Test
    void everyDocumentedWorklistCommandLineParses() throws IOException {
        MarkdownCommands found = MarkdownCommands.scan(MarkdownCommands.repositoryRoot().resolve("README.md"),
                PREFIXES, Map.of());
        List<String> failures = new ArrayList<>();
        for (MarkdownCommands.Found f : found.commands) {
            try {
                new CommandLine(new WorklistServer()).parseArgs(f.args().toArray(String[]::new));
            } catch (CommandLine.ParameterException e) {
                failures.add(f + "\n    -> " + e.getMessage());
            }
        }
        assertThat(failures).isEmpty();
        assertThat(found.commands).as("the README shows the worklist's commands").hasSizeGreaterThanOrEqualTo(2)
                .anyMatch(f -> f.args().contains("--tls-keystore"))
                .anyMatch(f -> f.args().contains("hash-password"));
    }
}
