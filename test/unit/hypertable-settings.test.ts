import { describe, expect, it } from 'vitest';
import { describeCompression, splitSegmentBy } from '../../src/steps/hypertable-settings.js';

describe('splitSegmentBy', () => {
  it('splits the views\' unquoted comma list, keeping names that hold a comma whole', () => {
    expect(splitSegmentBy('', ['a'])).toEqual([]);
    expect(splitSegmentBy('device', ['time', 'device'])).toEqual(['device']);
    expect(splitSegmentBy("Region's Code,a,b", ['time', "Region's Code", 'a,b'])).toEqual(["Region's Code", 'a,b']);
    expect(splitSegmentBy('a,b', ['a', 'b', 'a,b'])).toEqual(['a', 'b']);
  });
  it('falls back to the plain split for names the table no longer has', () => {
    expect(splitSegmentBy('gone,device', ['device'])).toEqual(['gone', 'device']);
    expect(splitSegmentBy('device,gone,other', ['device'])).toEqual(['device', 'gone', 'other']);
  });
});

describe('describeCompression', () => {
  it('says what is set, quoting names where SQL would', () => {
    expect(describeCompression(undefined)).toBe('-');
    expect(describeCompression({ status: 'not-enabled', segmentBy: [], orderBy: '' })).toBe('not enabled');
    expect(describeCompression({ status: 'already-enabled', segmentBy: ['device', "Region's Code"], orderBy: '"time" DESC',
      compressAfter: '7 days' }, 1000)).toBe(`already enabled; segment by device, "Region's Code"; order by "time" DESC; after 7 days; job 1000`);
  });
});
