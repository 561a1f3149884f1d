#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace cascade {

File::File(const std::string& path, Mode mode) : path_(path) {
  const int flags = mode == Mode::read ? O_RDONLY : O_RDWR | O_CREAT;
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
    if (n == 0) {
      errno = EIO;
      fail("unexpected end of file");
    }
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
// Writes into what `path` names as it stands (a device, a FIFO, a terminal), as `cp` or a shell's
// `>` would; no sync, which such files do not take.
void write_into(const std::string& path, std::span<const std::uint8_t> data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    throw FileError(path + ": cannot open: " + std::strerror(err), err);
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw FileError(path + ": write failed: " + std::strerror(err), err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && errno != EINTR) {
    const int err = errno;
    throw FileError(path + ": write failed: " + std::strerror(err), err);
  }
}
}  // namespace

void write_file_replace(const std::string& path_given, std::span<const std::uint8_t> data,
                        bool durable) {
  // Only a regular file is replaced: a rename over /dev/null (say, `make -o /dev/null` run as
  // root) would put a regular file where the device was.
  struct stat st {};
  if (::stat(path_given.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw FileError(path_given + ": is a directory", EISDIR);
    return write_into(path_given, data);
  }
  // Through a symbolic link, the file it names is replaced (created, if the link names nothing
  // yet), and the link stays.
  std::string path = path_given;
  if (::lstat(path_given.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path target = fs::read_symlink(path_given, ec);
    if (!ec) {
      if (target.is_relative()) target = fs::path(path_given).parent_path() / target;
      const fs::path resolved = fs::weakly_canonical(target, ec);  // links further on, too
      path = (ec ? target : resolved).string();
    }
  }
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    ::unlink(tmp.c_str());
    File f(tmp, File::Mode::read_write_create);
    f.write_at(0, data);
    if (durable) f.sync_data();
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw FileError(path + ": cannot replace: " + std::strerror(err), err);
  }
}

void write_port_file(const std::string& path, std::uint16_t port) {
  const std::string text = std::to_string(port) + "\n";
  write_file_replace(path, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

}  // namespace cascade
