package org.xrayscreening.trainer.lifecycle;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.xrayscreening.connectors.image.ImageSourcePolicy;
import picocli.CommandLine.Option;

/**
 * Where the trainer may read the claim-check images of {@code xray.labelled} events from: the same options, with
 * the same meaning, as the stream job's. Nothing by default (inline images only); a refused source is an
 * {@code IMAGE_SOURCE_NOT_ALLOWED} dead letter.
 */
public final class ImageSourceOptions {
    @Option(names = "--allow-file-root", split = ",", paramLabel = "DIR",
            description = "folder whose files labelled events may name as file: claim checks (repeatable or comma-separated;"
                    + " real paths compared: no .., no symbolic links out of it). Default: none")
    List<Path> fileRoots = new ArrayList<>();

    @Option(names = "--allow-url-prefix", split = ",", paramLabel = "URL",
            description = "http(s) URL prefix claim checks may start with, e.g. https://pacs.example/wado/ (repeatable or"
                    + " comma-separated; redirects are checked again). Default: none")
    List<String> urlPrefixes = new ArrayList<>();

    @Option(names = "--allow-private-addresses",
            description = "allow URL prefixes whose host resolves to a loopback or private address (link-local, e.g."
                    + " cloud metadata, stays refused)")
    boolean allowPrivateAddresses;

    /** @throws IllegalArgumentException for a URL prefix that is not an http(s) URL */
    public ImageSourcePolicy policy() {
        return ImageSourcePolicy.of(fileRoots, urlPrefixes, allowPrivateAddresses);
    }
}
