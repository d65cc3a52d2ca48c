import { describe, expect, it } from 'vitest';
import { filesOf } from '../../main/engine/folder/undo';

// The Undo banner names the batch's files as the guard counted them when it asked. Found by a new-user
// try: the guard asked about 10 files, the banner offered to undo the delete of 11 (the folder
// that held them). Refused: a folder of the batch counted as a file.
describe('the Undo offer counts files', () => {
  it('leaves out the folders that hold other paths of the batch', () => {
    expect(filesOf(['photos', 'photos/a.jpg', 'photos/trip', 'photos/trip/b.jpg', 'notes.txt'])).toBe(3);
    // A name that only starts like a folder's is no child of it.
    expect(filesOf(['a', 'a b', 'a.txt'])).toBe(3);
    expect(filesOf([])).toBe(0);
  });
});
