// MappedFile: open, fstat, mmap and munmap, with errors naming the file.
#include "inspect/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/error.h"
#include "core/file_descriptor.h"

namespace snapd {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) throw Error::NotFound(path + ": no such file");
    ThrowSystemError("open " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) ThrowSystemError("stat " + path, errno);
  if (!S_ISREG(st.st_mode)) throw Error::Permanent(path + ": not a regular file");
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) return;  // mmap refuses a length of 0; an empty span says the same
  void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (data == MAP_FAILED) ThrowSystemError("mmap " + path, errno);
  data_ = data;
  // Readers walk the tree and then the leaves mostly in file order: read ahead generously.
  ::madvise(data_, size_, MADV_WILLNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace snapd
