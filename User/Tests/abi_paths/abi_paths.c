// User/Tests/abi_paths: path and read details as Linux has them (review
// findings 12, 13, 14): ENOTDIR for a file used as a directory, EINVAL for
// O_CREAT|O_DIRECTORY, ENOENT for O_CREAT under a missing directory and
// for execve of a missing file before its arguments are read, the PATH_MAX
// limit counting the NUL, EISDIR for a 0-byte read of a directory.
// argv[0] must be the path of this program (runtests and the native runner
// pass it so).
#include "ctest.h"

enum { O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0100, O_TRUNC = 01000, O_DIRECTORY = 0200000 };
enum { ENOENT = 2, ENOTDIR = 20, EISDIR = 21, EROFS = 30, ENAMETOOLONG = 36 };
enum { PATH_MAX = 4096 };

static char path[PATH_MAX + 16];

static long open2(const char *p, long flags) { return sc3(SYS_open, (long)p, flags, 0644); }

static const char *with_suffix(const char *base, const char *suffix) {
    u64 n = 0;
    for (; base[n] && n < PATH_MAX; n++) path[n] = base[n];
    for (u64 i = 0; suffix[i]; i++) path[n++] = suffix[i];
    path[n] = 0;
    return path;
}

int test_main(int argc, char **argv) {
    if (argc < 1) { check("argv0", 0, "no argv[0]"); return 0; }
    const char *self = argv[0];
    long fd = open2(self, O_RDONLY);
    check("open-self", fd >= 0, "cannot open argv[0]");
    if (fd >= 0) sc1(SYS_close, fd);

    check_equal("file-with-trailing-slash-enotdir", open2(with_suffix(self, "/"), O_RDONLY), -ENOTDIR);
    check_equal("file-as-directory-enotdir", open2(with_suffix(self, "/x"), O_RDONLY), -ENOTDIR);
    check_equal("creat-directory-einval", open2("/", O_CREAT | O_DIRECTORY), -EINVAL);
    check_equal("creat-in-missing-directory-enoent", open2("/nonexistent-directory/x", O_CREAT | O_WRONLY), -ENOENT);
    if (on_swiftkernel()) {
        // Natively this would truncate a host file: only on the read-only archive.
        check_equal("trunc-on-read-only-file-erofs", open2(self, O_RDONLY | O_TRUNC), -EROFS);
    }

    // PATH_MAX counts the NUL: 4095 bytes resolve ("/" many times), 4096 do not.
    for (int i = 0; i < PATH_MAX; i++) path[i] = '/';
    path[PATH_MAX - 1] = 0;
    fd = open2(path, O_RDONLY | O_DIRECTORY);
    check("path-of-4095-bytes-opens", fd >= 0, "open of a 4095-byte path failed");
    if (fd >= 0) sc1(SYS_close, fd);
    path[PATH_MAX - 1] = '/'; path[PATH_MAX] = 0;
    check_equal("path-of-4096-bytes-enametoolong", open2(path, O_RDONLY | O_DIRECTORY), -ENAMETOOLONG);

    long root = open2("/", O_RDONLY | O_DIRECTORY);
    char byte;
    check_equal("read-directory-zero-bytes-eisdir", sc3(SYS_read, root, (long)&byte, 0), -EISDIR);
    sc1(SYS_close, root);

    check_equal("execve-missing-file-before-bad-argv", sc3(SYS_execve, (long)"/nonexistent", 1, 0), -ENOENT);
    check_equal("execve-file-with-trailing-slash-enotdir", sc3(SYS_execve, (long)with_suffix(self, "/"), 0, 0), -ENOTDIR);
    return 0;
}
