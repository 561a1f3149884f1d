#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

namespace cascade {

File::File(const std::string& path, Mode mode) : path_(path) {
  // Not blocking in the open: a FIFO would wait for a writer (size() then refuses it).
  const int flags = mode == Mode::read ? O_RDONLY | O_NONBLOCK : O_RDWR | O_CREAT;
  fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot open");
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

void File::fail(const std::string& op) const {
  const int err = errno;
  throw FileError(path_ + ": " + op + ": " + std::strerror(err), err);
}

std::int64_t modified_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::int64_t File::modified_ns() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot stat");
  return cascade::modified_ns(st);
}

std::uint64_t File::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("cannot stat");
  if (!S_ISREG(st.st_mode)) {
    errno = EINVAL;
    fail("not a regular file");
  }
  return static_cast<std::uint64_t>(st.st_size);
}

void File::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read failed");
    if (n == 0)  // cut short meanwhile (by another program), or never that long
      throw FileError(path_ + ": the file ends at byte " + std::to_string(offset + done) +
                          ", short of the " + std::to_string(offset + out.size()) +
                          " bytes needed; was it shortened by another program?",
                      EIO);
    done += static_cast<std::size_t>(n);
  }
}

void File::write_at(std::uint64_t offset, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write failed");
    done += static_cast<std::size_t>(n);
  }
}

void File::sync_data() {
  if (::fdatasync(fd_) != 0) fail("fdatasync failed");
}

std::string read_small_file(const std::string& path, std::uint64_t max_bytes) {
  File f(path, File::Mode::read);
  const std::uint64_t size = f.size();
  if (size > max_bytes)
    throw FileError(path + ": file is too large (" + std::to_string(size) + " bytes)", EFBIG);
  std::string out(size, '\0');
  f.read_at(0, {reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
  return out;
}

namespace {
[[noreturn]] void fail_on(const std::string& path, const char* what, int err) {
  throw FileError(path + ": " + what + ": " + std::strerror(err), err);
}

void write_all(int fd, const std::string& path, std::span<const std::uint8_t> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_on(path, "write failed", errno);
    done += static_cast<std::size_t>(n);
  }
}

// The standard output or error stream (1 or 2) that `st` describes, else -1: /dev/stdout, or the
// very file or pipe the output goes to.
int standard_stream(const struct stat& st) {
  for (const int fd : {1, 2}) {
    struct stat s {};
    if (::fstat(fd, &s) == 0 && s.st_dev == st.st_dev && s.st_ino == st.st_ino) return fd;
  }
  return -1;
}

// Writes into what `path` names as it stands (a device, a FIFO, a terminal), as `cp` or a shell's
// `>` would; no sync, which such files do not take. A FIFO nobody reads is an error, not a wait.
void write_into(const std::string& path, std::span<const std::uint8_t> data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 && errno == ENXIO) throw FileError(path + ": nothing is reading it", ENXIO);
  if (fd < 0) fail_on(path, "cannot open", errno);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // the open was the only wait
  try {
    write_all(fd, path, data);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0 && errno != EINTR) fail_on(path, "write failed", errno);
}

// Where a chain of symbolic links ends: the file to replace (or create), so that the links stay.
// Relative targets are taken from their link's directory; `..` is left to the kernel, which
// knows which directories are links.
std::string follow_links(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  for (int hops = 0; hops < 40; ++hops) {  // the kernel's own limit
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec)) || ec) return p.string();
    fs::path target = fs::read_symlink(p, ec);
    if (ec) return p.string();
    p = target.is_relative() ? p.parent_path() / target : target;
  }
  throw FileError(path + ": too many levels of symbolic links", ELOOP);
}
}  // namespace

void write_file_replace(const std::string& path_given, std::span<const std::uint8_t> data,
                        bool durable) {
  struct stat st {};
  if (::stat(path_given.c_str(), &st) == 0) {
    // The program's own output (--port-file /dev/stdout, however it is redirected): written to,
    // not replaced (renaming over a log the output goes to would lose what follows).
    if (const int fd = standard_stream(st); fd >= 0) return write_all(fd, path_given, data);
    if (S_ISDIR(st.st_mode)) throw FileError(path_given + ": is a directory", EISDIR);
    // Only a regular file is replaced: a rename over /dev/null (say, `make -o /dev/null` run as
    // root) would put a regular file where the device was.
    if (!S_ISREG(st.st_mode)) return write_into(path_given, data);
  }
  const std::string path = follow_links(path_given);
  // A short name beside it (a name near the 255-byte limit leaves no room for a suffix), unique
  // within the process; errors name the file asked for, not the temporary one.
  static std::atomic<std::uint64_t> serial{0};
  const auto slash = path.rfind('/');
  const std::string tmp = path.substr(0, slash == std::string::npos ? 0 : slash + 1) + ".tmp-" +
                          std::to_string(::getpid()) + "-" + std::to_string(serial++);
  try {
    ::unlink(tmp.c_str());
    File f(tmp, File::Mode::read_write_create);
    f.write_at(0, data);
    if (durable) f.sync_data();
  } catch (const FileError& e) {
    ::unlink(tmp.c_str());
    throw FileError(path + ": cannot write: " + std::strerror(e.error), e.error);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw FileError(path + ": cannot replace: " + std::strerror(err), err);
  }
}

std::string read_small_stream(const std::string& path, std::uint64_t max_bytes) {
  // Not blocking in the open: a FIFO with no writer is read as empty instead of waited on.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) fail_on(path, "cannot open", errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_on(path, "cannot stat", errno);
  if (S_ISDIR(st.st_mode)) throw FileError(path + ": is a directory", EISDIR);
  if (S_ISREG(st.st_mode)) return read_small_file(path, max_bytes);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  std::string out;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_on(path, "read failed", errno);
    if (n == 0) return out;
    out.append(chunk, static_cast<std::size_t>(n));
    if (out.size() > max_bytes)
      throw FileError(
          path + ": file is too large (more than " + std::to_string(max_bytes) + " bytes)", EFBIG);
  }
}

namespace {
// follow_links, or the path itself where the chain is too long (stat() then fails on it too).
std::string link_target(const std::string& path) {
  try {
    return follow_links(path);
  } catch (const FileError&) {
    return path;
  }
}
}  // namespace

bool same_file(const std::string& a_path, const std::string& b_path) {
  const std::string a = link_target(a_path), b = link_target(b_path);
  struct stat sa {
  }, sb{};
  const bool ea = ::stat(a.c_str(), &sa) == 0, eb = ::stat(b.c_str(), &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea != eb) return false;
  std::error_code e1, e2;
  return std::filesystem::weakly_canonical(a, e1) == std::filesystem::weakly_canonical(b, e2) &&
         !e1 && !e2;
}

bool lies_in(const std::string& path, const std::string& dir) {
  const std::filesystem::path parent = std::filesystem::path(link_target(path)).parent_path();
  return same_file(parent.empty() ? "." : parent.string(), dir);
}

std::optional<std::string> output_clash(
    const std::vector<std::pair<std::string, std::string>>& outputs,
    const std::vector<std::pair<std::string, std::string>>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [option, path] = outputs[i];
    if (path.empty()) continue;
    for (const auto& [what, input] : inputs)
      if (!input.empty() && same_file(path, input))
        return option + " " + path + " is " + what + " " + input + ": it would be overwritten";
    // Two outputs may both be a device (/dev/null, the terminal), not one regular file.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) continue;
    for (std::size_t k = 0; k < i; ++k)
      if (!outputs[k].second.empty() && same_file(path, outputs[k].second))
        return option + " " + path + " is also " + outputs[k].first + "'s file";
  }
  return std::nullopt;
}

void write_port_file(const std::string& path, std::uint16_t port) {
  const std::string text = std::to_string(port) + "\n";
  write_file_replace(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace cascade
