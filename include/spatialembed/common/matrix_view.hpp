#pragma once
/// @file
/// Non-owning views of dense row-major matrices (`rows × cols`, row i at data + i·cols).

#include <cstddef>
#include <utility>

namespace spatialembed {

/// A row-major `rows × cols` matrix that someone else owns (a NumPy array, a std::vector).
/// Dense data throughout the library is row-major float32, n_samples × n_features.
template <class T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;

  MatrixView() = default;
  MatrixView(T* data_, std::size_t rows_, std::size_t cols_) : data(data_), rows(rows_), cols(cols_) {}
  /// A view of a mutable matrix also views it read-only.
  template <class U>
  MatrixView(const MatrixView<U>& other) : data(other.data), rows(other.rows), cols(other.cols) {}

  T* row(std::size_t i) const { return data + i * cols; }
  T& operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
  std::size_t size() const { return rows * cols; }
  bool empty() const { return rows == 0; }
};

/// Read-only float32 matrix view, the input type of every algorithm.
using ConstMatrixF = MatrixView<const float>;
/// Writable float32 matrix view, for outputs the caller allocates.
using MatrixF = MatrixView<float>;

}  // namespace spatialembed

namespace spatialembed {

/// A contiguous 1-D array that someone else owns (like C++20 std::span); empty means "none".
template <class T>
class VectorView {
 public:
  VectorView() = default;
  VectorView(T* data, std::size_t size) : data_(data), size_(size) {}
  /// Views a std::vector or any contiguous container with data() and size().
  template <class Container, class = decltype(std::declval<Container&>().data())>
  VectorView(Container& c) : data_(c.data()), size_(c.size()) {}

  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace spatialembed
