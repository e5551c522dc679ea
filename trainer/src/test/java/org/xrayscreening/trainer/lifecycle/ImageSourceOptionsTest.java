package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import picocli.CommandLine;

/** {@code serve}'s claim-check options: nothing allowed by default, the same flags as the stream job. */
class ImageSourceOptionsTest {

    private static final List<String> REQUIRED = List.of("--store", "/s", "--registry", "/r", "--bootstrap-servers", "k:9092");

    private static ImageSourcePolicy parse(String... extra) {
        ServeCommand serve = new ServeCommand();
        List<String> args = new java.util.ArrayList<>(REQUIRED);
        args.addAll(List.of(extra));
        new CommandLine(serve).parseArgs(args.toArray(String[]::new));
        return serve.imageSources.policy();
    }

    @Test
    void nothingIsAllowedByDefault() {
        ImageSourcePolicy policy = parse();
        assertThat(policy.fileRoots()).isEmpty();
        assertThat(policy.allowsPrivateAddresses()).isFalse();
        assertThatThrownBy(() -> policy.checkFile(URI.create("file:///etc/passwd")))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED));
        assertThatThrownBy(() -> policy.checkUrl(URI.create("http://127.0.0.1:9404/metrics")))
                .isInstanceOfSatisfying(InvalidEventException.class,
                        e -> assertThat(e.reason()).isEqualTo(DeadLetterReason.IMAGE_SOURCE_NOT_ALLOWED));
    }

    @Test
    void repeatableAndCommaSeparated() {
        ImageSourcePolicy policy = parse("--allow-file-root", "/a", "--allow-file-root", "/b,/c",
                "--allow-url-prefix", "https://pacs.example/wado/", "--allow-private-addresses");
        assertThat(policy.fileRoots()).containsExactly(Path.of("/a"), Path.of("/b"), Path.of("/c"));
        assertThat(policy.allowsPrivateAddresses()).isTrue();
        assertThat(policy.summary()).startsWith("3 file root(s), 1 URL prefix(es)");
        assertThatThrownBy(() -> parse("--allow-url-prefix", "ftp://pacs.example/"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
