//! Classes defined in Python source compiled into the extension
//! (`errors.py`, `types.py`): a [`Classes`] table runs the source at import
//! in a namespace whose `__name__` is the module's, adds the named classes
//! to the module and keeps the class objects for the Rust side.

use std::ffi::CStr;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule, PyType};

/// The classes one source file defines, by their position in its list of
/// names.
pub(crate) struct Classes(PyOnceLock<Vec<Py<PyType>>>);

impl Classes {
    pub(crate) const fn new() -> Self {
        Self(PyOnceLock::new())
    }

    /// Runs `source` (the text of `file`), adds the classes `names` it
    /// defines to `module` and keeps them in the order of `names`.
    pub(crate) fn define(
        &self,
        module: &Bound<'_, PyModule>,
        file: &str,
        source: &CStr,
        names: &[&str],
    ) -> PyResult<()> {
        let py = module.py();
        let globals = PyDict::new(py);
        globals.set_item("__name__", module.name()?)?;
        globals.set_item("__builtins__", py.import("builtins")?)?;
        py.run(source, Some(&globals), None)?;
        let mut classes = Vec::with_capacity(names.len());
        for &name in names {
            let class = globals
                .get_item(name)?
                .ok_or_else(|| PyRuntimeError::new_err(format!("{file} did not define {name}")))?
                .cast_into::<PyType>()?;
            module.add(name, &class)?;
            classes.push(class.unbind());
        }
        let _ = self.0.get_or_init(py, || classes);
        Ok(())
    }

    /// The class at position `i`, once defined.
    pub(crate) fn get<'py>(&self, py: Python<'py>, i: usize) -> Option<&Bound<'py, PyType>> {
        self.0.get(py).and_then(|v| v.get(i)).map(|t| t.bind(py))
    }
}
