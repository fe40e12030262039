//! A table of values addressed by `u32` handles, reusing freed slots.

/// The table.
#[derive(Debug)]
pub struct Slab<T> {
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `v`; returns its handle.
    pub fn insert(&mut self, v: T) -> u32 {
        match self.free.pop() {
            Some(h) => {
                self.items[h as usize] = Some(v);
                h
            }
            None => {
                self.items.push(Some(v));
                (self.items.len() - 1) as u32
            }
        }
    }

    /// Takes the value out of slot `h`.
    pub fn remove(&mut self, h: u32) -> T {
        let v = self.items[h as usize]
            .take()
            .expect("slab handle refers to a live slot");
        self.free.push(h);
        v
    }

    /// The value in slot `h`.
    #[inline]
    pub fn get(&self, h: u32) -> &T {
        self.items[h as usize]
            .as_ref()
            .expect("slab handle refers to a live slot")
    }

    /// The value in slot `h`, writable.
    #[inline]
    pub fn get_mut(&mut self, h: u32) -> &mut T {
        self.items[h as usize]
            .as_mut()
            .expect("slab handle refers to a live slot")
    }

    /// Bytes of the table itself (not what the values own).
    pub fn allocated(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<Option<T>>() + self.free.capacity() * 4
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// True when the table holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
